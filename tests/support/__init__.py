"""What the tests share: databases, Moodle rows, example sites, requests and servers."""

#: A time bound that catches a hang, and nothing finer: speed is measured in benchmarks/.
HANG_SECONDS = 30
