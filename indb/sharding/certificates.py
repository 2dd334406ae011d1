"""The certificates of a secured cluster, made by ``indb init --tls`` with the ``cryptography``
package: a certificate authority of the cluster's own, and one certificate it signs that every
member (scheduler, workers, heads) shows. Dask's TLS requires a certificate the CA signed from
both ends of every connection, so a process without these files cannot connect at all.

Keys stay on the hosts of the cluster: the CA's key is kept only to sign more certificates
(``ca-key.pem``, readable by its owner alone), and ``node-key.pem`` is copied to each host.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from indb.catalog.location import Tls
from indb.errors import OptionError

VALID_DAYS = 825  # what browsers accept of a leaf; the cluster's own CA: ten years
CA_DAYS = 3650
FILES = {"ca": "ca.pem", "ca_key": "ca-key.pem", "cert": "node.pem", "key": "node-key.pem"}


def make_certificates(directory: Path, hosts: tuple[str, ...] = ()) -> Tls:
    """A new CA and a node certificate for ``hosts`` (names or addresses; this host and
    loopback are always in it) in ``directory``; refuses to overwrite existing files."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in FILES.values() if (directory / name).exists()]
    if existing:
        raise OptionError(f"{directory} already holds {', '.join(existing)}; give another "
                          "directory, or use those files")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "indb cluster CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = dict.fromkeys((socket.gethostname(), "localhost", "127.0.0.1", *hosts))
    node = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "indb node")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(directory / FILES["ca"], ca.public_bytes(serialization.Encoding.PEM))
    _write(directory / FILES["cert"], node.public_bytes(serialization.Encoding.PEM))
    for name, private in (("ca_key", ca_key), ("key", key)):
        _write(directory / FILES[name], private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), secret=True)
    return Tls(*(str(directory / FILES[k]) for k in ("ca", "cert", "key")))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write a file; a key is readable by its owner alone from the moment it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
