"""What holding a request to its declared parameters costs (``soap.parameters``).

    .venv/bin/python benchmarks/bench_parameters.py

Times the check alone, before Spyne decodes: a usual GetStats over SOAP and over a
query, GetUsersStats with its largest list (1000 targetuser), and the largest list a
body under the default size limit can hold, which the check reads whole before the
operation refuses more than 1000 users. Prints the best time of five runs of each.
"""

from __future__ import annotations

import timeit

from lxml import etree

from soap_usestats.config import Settings
from soap_usestats.soap import parameters
from soap_usestats.soap.service import soap_application

TNS = "urn:soap-usestats:1"
USER = "<u:targetuser>learner</u:targetuser>"


def element(operation: str, inner: str) -> etree._Element:
    return etree.fromstring(f'<u:{operation} xmlns:u="{TNS}">{inner}</u:{operation}>')


def best(check, runs: int) -> float:
    """Seconds per check, the best of five rounds of ``runs``."""
    return min(timeit.repeat(check, number=runs, repeat=5)) / runs


def main() -> None:
    messages = {d.name: d.in_message for d in soap_application().interface.method_id_map.values()}
    stats = element("GetStats", "<u:targetuser>learner</u:targetuser><u:statsscope>course"
                                "</u:statsscope><u:timefrom>0</u:timefrom><u:timeto>100000"
                                "</u:timeto><u:daily>true</u:daily>")
    query = {"targetuser": ["learner"], "statsscope": ["course"], "timefrom": ["0"],
             "timeto": ["100000"], "daily": ["true"], "wstoken": ["0" * 32]}
    most = Settings().max_request_bytes // len(USER)
    cases = [
        ("GetStats, 5 parameters, SOAP", 2000,
         lambda: parameters.check_element(messages["GetStats"], stats)),
        ("GetStats, 5 parameters, query", 2000,
         lambda: parameters.check_query(messages["GetStats"], query, ("wstoken",))),
    ]
    for count in (1000, most):
        users = element("GetUsersStats", f"<u:targetusers>{USER * count}</u:targetusers>")
        cases.append((f"GetUsersStats, {count} targetuser, SOAP", 5,
                      lambda users=users: parameters.check_element(messages["GetUsersStats"],
                                                                   users)))
    for label, runs, check in cases:
        print(f"{label:45} {best(check, runs) * 1000:9.3f} ms")


if __name__ == "__main__":
    main()
