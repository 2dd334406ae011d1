"""``kinetica_proc`` as Kinetica UDF scripts import it; inside indb function processes this
module is on ``sys.path`` and forwards to ``indb.udf.procdata``."""

from indb.udf.procdata import InputColumn, InputTable, OutputColumn, OutputTable, ProcData

__all__ = ["InputColumn", "InputTable", "OutputColumn", "OutputTable", "ProcData"]
