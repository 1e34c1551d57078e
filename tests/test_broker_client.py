"""The paho client builder both halves use (contract/broker_client.py): credentials files read
the same way with a clear error, sessions that outlive a disconnection, the cluster's fail-over."""

from __future__ import annotations

from pathlib import Path

import pytest

from eldergate.contract.broker_client import (
    BrokerAddress,
    CredentialsError,
    connect_kwargs,
    fail_over,
    new_client,
    parse_url,
    read_credentials,
)


def test_a_credentials_file_is_two_lines_and_a_short_one_is_named_without_its_secret(tmp_path: Path) -> None:
    good = tmp_path / "box.cred"
    good.write_text("gw-kz-1\ns3cret-pass\n")
    assert read_credentials(good) == ("gw-kz-1", "s3cret-pass")
    short = tmp_path / "short.cred"
    short.write_text("only-the-password-s3cret\n")
    with pytest.raises(CredentialsError) as err:
        read_credentials(short)
    assert "short.cred" in str(err.value) and "s3cret" not in str(err.value)
    with pytest.raises(CredentialsError, match=r"missing\.cred"):
        read_credentials(tmp_path / "missing.cred")


def test_a_v5_session_outlives_a_disconnection_only_when_asked() -> None:
    kept = connect_kwargs(True, 86400)
    assert kept["clean_start"] is False and kept["properties"].SessionExpiryInterval == 86400
    assert connect_kwargs(True, 0)["clean_start"] is True
    assert connect_kwargs(False, 86400) == {}


def test_a_failed_connection_moves_on_to_the_next_node_and_back() -> None:
    nodes = [parse_url("mqtt://10.0.0.1:1883"), parse_url("mqtts://10.0.0.2"), parse_url("mqtt://10.0.0.3:1884")]
    assert nodes[1] == BrokerAddress("10.0.0.2", 8883, True)
    client = new_client("t", v5=True, persistent=True, tls=False)
    fail_over(client, nodes)
    seen = []
    next_node = client.on_connect_fail
    assert next_node is not None
    for _ in range(4):
        next_node(client, None)
        seen.append((client._host, client._port))
    assert seen == [("10.0.0.2", 8883), ("10.0.0.3", 1884), ("10.0.0.1", 1883), ("10.0.0.2", 8883)]
