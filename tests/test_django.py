"""Django, a client of the pg port written by others: its migration framework creates, alters,
renames and indexes tables through ``indb serve``'s PostgreSQL port exactly as it does on
PostgreSQL (CharField lengths, an AutoField widened to BigAutoField, a ForeignKey, RenameField, RenameIndex,
UniqueConstraint, AddIndex, a PositiveIntegerField's CHECK added with its column, RemoveField,
RenameModel, AlterModelTable), its ORM writes and reads the tables, and its introspection reads
the constraints and indexes back. Skipped where Django is not installed (``make test`` installs
it)."""

from __future__ import annotations

import sys
import textwrap
from decimal import Decimal

import pytest

from serving import Served

django = pytest.importorskip("django")

INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Customer", [
            ("id", models.AutoField(primary_key=True, serialize=False)),
            ("email", models.CharField(max_length=100, unique=True)),
            ("name", models.CharField(max_length=50, db_index=True)),
        ]),
        migrations.CreateModel("Order", [
            ("id", models.BigAutoField(primary_key=True, serialize=False)),
            ("ref", models.CharField(max_length=20)),
            ("amount", models.DecimalField(max_digits=10, decimal_places=2)),
            ("customer_ref", models.IntegerField()),
        ], options={"indexes": [models.Index(fields=["ref", "customer_ref"], name="order_ref_idx")]}),
        migrations.CreateModel("Payment", [
            ("id", models.AutoField(primary_key=True, serialize=False)),
            ("customer", models.ForeignKey(on_delete=models.PROTECT, to="shop.customer")),
        ]),
    ]
"""
CHANGES = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AlterField("customer", "name", models.CharField(max_length=200, db_index=True)),
        migrations.AlterField("customer", "id", models.BigAutoField(primary_key=True, serialize=False)),
        migrations.AddField("customer", "age", models.PositiveIntegerField(null=True)),
        migrations.AddField("customer", "vip", models.BooleanField(default=False)),
        migrations.RenameField("order", "ref", "reference"),
        migrations.RenameIndex("order", new_name="order_reference_idx", old_name="order_ref_idx"),
        migrations.AddConstraint("order", models.UniqueConstraint(fields=["reference"],
                                                                  name="order_reference_uniq")),
        migrations.AddIndex("customer", models.Index(fields=["age"], name="customer_age_idx")),
        migrations.RemoveField("customer", "name"),
        migrations.RenameModel("Order", "Purchase"),
        migrations.AlterModelTable("purchase", "shop_purchases"),
    ]
"""
MODELS = """
from django.db import models


class Customer(models.Model):
    id = models.BigAutoField(primary_key=True)
    email = models.CharField(max_length=100, unique=True)
    age = models.PositiveIntegerField(null=True)
    vip = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["age"], name="customer_age_idx")]


class Purchase(models.Model):
    id = models.BigAutoField(primary_key=True)
    reference = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    customer_ref = models.IntegerField()

    class Meta:
        db_table = "shop_purchases"
        indexes = [models.Index(fields=["reference", "customer_ref"], name="order_reference_idx")]
        constraints = [models.UniqueConstraint(fields=["reference"], name="order_reference_uniq")]


class Payment(models.Model):
    id = models.AutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A served database and the Django app ``shop`` (its models and two migrations) set up to
    use it through the pg port."""
    root = tmp_path_factory.mktemp("django")
    app = root / "shop"
    (app / "migrations").mkdir(parents=True)
    for path, text in ((app / "__init__.py", ""), (app / "models.py", MODELS),
                       (app / "migrations" / "__init__.py", ""),
                       (app / "migrations" / "0001_initial.py", INITIAL),
                       (app / "migrations" / "0002_changes.py", CHANGES)):
        path.write_text(textwrap.dedent(text))
    sys.path.insert(0, str(root))
    server = Served(root / "db")
    from django.conf import settings
    settings.configure(INSTALLED_APPS=["shop"], USE_TZ=True, DATABASES={"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": "indb", "USER": "admin",
        "HOST": "127.0.0.1", "PORT": str(server.pg_port)}})
    django.setup()
    try:
        yield server
    finally:
        from django.db import connections
        connections.close_all()
        server.stop()
        sys.path.remove(str(root))


def test_migrations_the_orm_and_introspection(shop):
    from django.core.management import call_command
    from django.db import IntegrityError, connection, transaction

    call_command("migrate", "shop", verbosity=0)
    from shop.models import Customer, Purchase  # (the app's modules, on the path the fixture set)

    ann = Customer.objects.create(email="ann@x", age=30, vip=True)
    Customer.objects.create(email="bob@x")
    assert ann.id == 1 and Customer.objects.filter(vip=False).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(email="ann@x")  # unique=True
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(email="cy@x", age=-1)  # PositiveIntegerField's CHECK
    Purchase.objects.create(reference="r1", amount=Decimal("1.50"), customer_ref=ann.id)
    with pytest.raises(IntegrityError), transaction.atomic():
        Purchase.objects.create(reference="r1", amount=Decimal("2"), customer_ref=ann.id)
    assert list(Purchase.objects.values_list("reference", "amount")) == [("r1", Decimal("1.50"))]
    # the ORM's writes name their table's columns with it: WHERE "shop_customer"."id" = ...
    Customer.objects.filter(email="bob@x").update(age=41)
    assert Customer.objects.get(email="bob@x").age == 41
    assert Customer.objects.filter(email="bob@x").delete()[0] == 1
    assert list(Customer.objects.values_list("email", flat=True)) == ["ann@x"]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "shop_purchases")
        tables = connection.introspection.table_names(cursor)
    assert constraints["order_reference_uniq"]["unique"] and \
        constraints["order_reference_uniq"]["columns"] == ["reference"]
    assert constraints["order_reference_idx"]["index"] and \
        constraints["order_reference_idx"]["columns"] == ["reference", "customer_ref"]
    assert {"shop_customer", "shop_purchases", "django_migrations"} <= set(tables)
    assert "shop_order" not in tables
    # a ForeignKey: its constraint (added by ALTER TABLE, dropped and added again around the
    # widening of the customer's id above) holds, and introspection reads it back
    from shop.models import Payment
    Payment.objects.create(customer=ann)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(customer_id=99)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM shop_customer WHERE id = %s", [ann.id])  # referenced
    assert Payment.objects.select_related("customer").get().customer.email == "ann@x"
    with connection.cursor() as cursor:
        keys = [c for c in connection.introspection.get_constraints(cursor, "shop_payment").values()
                if c["foreign_key"]]
    assert [(k["columns"], k["foreign_key"]) for k in keys] == [(["customer_id"], ("shop_customer", "id"))]
    customer = connection.introspection.get_constraints(connection.cursor(), "shop_customer")
    assert customer["customer_age_idx"]["columns"] == ["age"]
    assert not any(c["columns"] == ["name"] for c in customer.values())  # went with its column
