"""`relive gallery`: a static web page of trained workdirs: videos, training curves and evaluations."""
