"""The soap-usestats command."""

from soap_usestats.cli import main
from tests.test_wsdl import WSDL_FILE


def test_wsdl_command_writes_the_published_wsdl(tmp_path, monkeypatch):
    monkeypatch.delenv("USESTATS_PUBLIC_URL", raising=False)
    monkeypatch.delenv("USESTATS_CONFIG", raising=False)
    output = tmp_path / "use_stats.wsdl"
    assert main(["wsdl", "--output", str(output)]) == 0
    assert output.read_bytes() == WSDL_FILE.read_bytes()


def test_demo_command_builds_once_and_refuses_an_existing_site(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'var' / 'demo.sqlite'}"
    assert main(["demo", "--url", url, "--learners", "3"]) == 0
    assert "Reference learner: ref.learner" in capsys.readouterr().out
    assert main(["demo", "--url", url]) == 2
    assert "refusing" in capsys.readouterr().err
