"""`relive gallery`: a static web page of trained workdirs' videos, curves and evaluations."""
