"""Federation: the sites a service answers for, its own and those of ``[sites]``.

``network`` routes an operation by ``whereroot`` (and sums ``*``), ``peer``
asks another soap_usestats service, ``answers`` turns its messages back into
plain results, and ``chain`` keeps forwarded calls from looping.
"""
