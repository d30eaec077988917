from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_configuration_loads():
    s = load_settings(ROOT / "asterisk.conf.example", env={})
    assert s.fastagi_port == 4573 and s.timezone == "Asia/Shanghai" and s.queues["yue"] == "hotline-yue"


def test_defaults_are_the_embedded_ones():
    s = load_settings(env={})
    assert (s.fastagi_host, s.fastagi_port, s.web_port) == ("127.0.0.1", 4573, 8080)
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith("var/hotline.db")


def test_environment_overrides_the_file(tmp_path):
    s = load_settings(ROOT / "asterisk.conf.example",
                      env={"HOTLINE_DATABASE_URL": "postgresql+psycopg://x@h/db", "HOTLINE_FASTAGI_PORT": "4600",
                           "HOTLINE_QUEUES": "cmn=a,yue=b"})
    assert s.db_url == "postgresql+psycopg://x@h/db" and s.fastagi_port == 4600 and s.queues == {"cmn": "a", "yue": "b"}


@pytest.mark.parametrize("env,message", [
    ({"HOTLINE_FASTAGI_PORT": "many"}, "fastagi_port"),
    ({"HOTLINE_TIMEZONE": "Mars/Olympus"}, "timezone"),
    ({"HOTLINE_AGI_BUF_LEN": "4096"}, "agi_buf_len"),
    ({"HOTLINE_SOCKET_TIMEOUT": "0"}, "socket_timeout"),
    ({"HOTLINE_SOCKET_TIMEOUT": "60"}, "socket_timeout must be at least 130 s"),     # below a 120 s message
    ({"HOTLINE_SOCKET_TIMEOUT": "200", "HOTLINE_MESSAGE_MAX_MS": "300000"}, "at least 310 s"),
])
def test_bad_settings_name_what_is_wrong(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_unknown_key_in_file_is_an_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[hotline]\nfastagi_prot = 1\n')
    with pytest.raises(ConfigError, match="fastagi_prot"):
        load_settings(cfg, env={})
