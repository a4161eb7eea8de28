"""Federation: the sites a service answers for, its own and those of ``[sites]``.

``network`` routes an operation by ``whereroot`` (and sums ``*``), ``peer``
asks another soap_usestats service through ``transport``, which holds it to its
own WSDL, one deadline and a bounded answer, ``answers`` checks its messages
against the contract and turns them back into plain results, and ``chain`` keeps
forwarded calls from looping.
"""
