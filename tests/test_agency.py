"""The issuing agency's name (发文机关) is a bureau setting: `yibao bureau init --agency-name`, changed later with
`yibao bureau set-agency-name`, kept in the database (every node prints the same), checked before it is stored.
Its appearance on the 决定书 and the 一公开 page is tested end to end in tests/test_disclose.py."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bureau import agency, demo_seed, keystore
from bureau.db import make_engine
from bureau.settings import BureauSettings
from tests.support import PASSPHRASE, init_bureau, run_cli


def stored(settings) -> str:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return agency.agency_name(session)
    finally:
        engine.dispose()


def cli(settings, *args: str, check: bool = True):
    return run_cli(*args, "--db", settings.database_url, "--data", str(settings.data_dir), check=check)


def test_init_names_the_agency_and_it_can_be_changed(bureau_settings):
    made = cli(bureau_settings, "bureau", "init", "--agency-name", "  福州市医疗保障局 ")
    assert "发文机关：福州市医疗保障局" in made.stderr
    assert stored(bureau_settings) == "福州市医疗保障局"
    changed = cli(bureau_settings, "bureau", "set-agency-name", "福州市鼓楼区医疗保障局")
    assert "由“福州市医疗保障局”改为“福州市鼓楼区医疗保障局”" in changed.stderr
    assert stored(bureau_settings) == "福州市鼓楼区医疗保障局"
    again = cli(bureau_settings, "bureau", "init", "--agency-name", "福州市医疗保障局")  # keys exist: name only
    assert "密钥已存在" in again.stderr and stored(bureau_settings) == "福州市医疗保障局"


BAD_NAMES = [("", "不能为空"), ("   ", "不能为空"), ("福州市\n医疗保障局", "不能含换行或控制字符"),
             ("局" * 41, "过长（41 字，最多 40 字）")]


def test_a_bad_name_is_refused_and_nothing_changes(bureau_settings):
    for name, problem in BAD_NAMES:
        refused = cli(bureau_settings, "bureau", "init", "--agency-name", name, check=False)
        assert refused.returncode == 2 and f"--agency-name：发文机关名称{problem}" in refused.stderr
        assert not bureau_settings.data_dir.exists()  # refused before anything was made
    cli(bureau_settings, "bureau", "init")
    assert stored(bureau_settings) == agency.DEFAULT_NAME  # an unnamed bureau prints the generic name
    for name, problem in BAD_NAMES:
        refused = cli(bureau_settings, "bureau", "set-agency-name", name, check=False)
        assert refused.returncode == 2 and problem in refused.stderr
    assert stored(bureau_settings) == agency.DEFAULT_NAME


@pytest.mark.parametrize("name, problem", BAD_NAMES)
def test_check_name(name, problem):
    with pytest.raises(ValueError, match=problem.replace("（", r"\（").replace("）", r"\）")):
        agency.check_name(name)
    assert agency.check_name(" 福州市医疗保障局\u3000") == "福州市医疗保障局"


def test_the_demo_bureau_is_named_after_its_city(tmp_path):
    settings = BureauSettings(data_dir=tmp_path / "bureau", database_url=f"sqlite:///{tmp_path / 'bureau.db'}")
    init_bureau(settings)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            demo_seed.seed(session, keystore.open_signing_key(settings, PASSPHRASE.encode()), "yibao-demo-2026")
            session.commit()
    finally:
        engine.dispose()
    assert stored(settings) == demo_seed.DEMO_AGENCY == "福州市医疗保障局"
