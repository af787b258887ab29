"""Campaign packs: the bundled pack is good; every kind of broken field is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.packs import BUNDLED_PACKS, PackError, load_pack, load_packs

BUNDLED = BUNDLED_PACKS / "one-step-ahead.toml"


def broken(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    text = BUNDLED.read_text()
    assert old in text, old
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, count))
    return path


def problems(path: Path) -> str:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_bundled_pack_has_five_asks_each_with_statistic_and_https_link() -> None:
    pack = load_pack(BUNDLED)
    assert pack.campaign.slug == "one-step-ahead"
    assert len(pack.asks) == 5
    assert len(pack.topics) == 5
    for ask in pack.asks:
        assert ask.statistic.figure and ask.statistic.sentence and ask.statistic.year
        assert ask.action.url.startswith("https://")
        assert len(ask.ask) <= 400
    allowed = {"www.iwf.org.uk", "report.iwf.org.uk", "www.writetothem.com"}
    hosts = {ask.action.url.split("/")[2] for ask in pack.asks}
    hosts |= {ask.statistic.url.split("/")[2] for ask in pack.asks}
    assert hosts <= allowed


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'url = "https://www.writetothem.com/"',
            'url = "http://www.writetothem.com/"',
            "ask 'ai-images' (#1), field action.url: must be an https:// link",
        ),
        (
            'url = "https://www.writetothem.com/"',
            'url = "not a link"',
            "ask 'ai-images' (#1), field action.url",
        ),
        ('figure = "2,401"', "", "ask 'age-verification' (#3), field statistic.figure: is missing"),
        ("year = 2018", "year = 1850", "ask 'pre-screening' (#2), field statistic.year"),
        ('topic = "ai"', 'topic = "AI Images!"', "ask 'ai-images' (#1), field topic"),
        (
            'label = "Write to your MP"',
            'label = "Write to your MP"\ncolour = "red"',
            "ask 'ai-images' (#1), field action.colour: is not a known field",
        ),
        ('id = "pre-screening"', 'id = "ai-images"', "ask id 'ai-images' is used twice"),
        (
            'timezone = "Europe/London"',
            'timezone = "Europe/Atlantis"',
            "campaign, field schedule.timezone: 'Europe/Atlantis' is not an IANA time zone",
        ),
        ('weekday = "tuesday"', 'weekday = "caturday"', "campaign, field schedule.weekday"),
        ('time = "18:30"', 'time = "25:99"', "campaign, field schedule.time"),
        ('title = "One Step Ahead"', 'title = ""', "campaign, field title"),
        (
            'title = "Make age checks real for children online"',
            'title = "Bell\\u0007 rings"',
            "ask 'age-verification' (#3), field title: contains a control character (U+0007)",
        ),
    ],
)
def test_broken_field_is_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in problems(broken(tmp_path, old, new))


def test_ask_too_long_for_a_phone(tmp_path: Path) -> None:
    start = "Write to your MP and ask them to press"
    message = problems(broken(tmp_path, start, "word " * 80 + start))
    assert "ask 'ai-images' (#1), field ask: is 623 characters long; at most 400 fit" in message


def test_missing_ask_id_names_the_ask_by_number(tmp_path: Path) -> None:
    message = problems(broken(tmp_path, 'id = "encrypted-messaging"\n', ""))
    assert "ask #4, field id: is missing" in message


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[campaign\nslug = ")
    assert "not valid TOML" in problems(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe[campaign]")
    assert "not UTF-8" in problems(path)


def test_no_asks(tmp_path: Path) -> None:
    text = BUNDLED.read_text()
    path = tmp_path / "empty.toml"
    path.write_text(text[: text.index("[[asks]]")])
    assert "field asks: is missing" in problems(path)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = broken(tmp_path, 'url = "https://report.iwf.org.uk/"', 'url = "ftp://x"')
    text = path.read_text().replace('weekday = "tuesday"', 'weekday = "someday"')
    path.write_text(text)
    message = problems(path)
    assert "campaign, field schedule.weekday" in message
    assert "ask 'mandatory-reporting' (#5), field action.url" in message


def test_folder_with_two_packs_of_one_slug(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(BUNDLED.read_text())
    (tmp_path / "b.toml").write_text(BUNDLED.read_text())
    with pytest.raises(PackError, match="already used by another pack"):
        load_packs(tmp_path)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="holds no campaign packs"):
        load_packs(tmp_path)
