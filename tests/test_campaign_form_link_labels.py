"""The Welsh welcome link labels in the campaign's form (`[campaign.translations.cy]
welcome_link_labels`), over the real dashboard: one beside each welcome message,
checked as a pack's are, each problem beside its field, and kept on save. The Welsh
is test Welsh, not the charity's.
"""

from __future__ import annotations

import re
import tomllib

from campaigns.campaign_form import NO_LINK_MESSAGE
from tests import test_ask_editing as ask_editing
from tests.test_ask_editing import BUNDLED, Bot, field_error, flashes, form_at, page

# The fixtures of tests/test_ask_editing.py: the same running bot and fake Telegram.
settings = ask_editing.settings
telegram = ask_editing.telegram
bot = ask_editing.bot

PATH = f"/campaigns/{BUNDLED}/edit"
LABEL = "translations.cy.welcome_link_labels.{}".format
WELSH = {  # the bundled series: message 1 has no link, message 2 links to the IWF
    "translations.cy.welcome.1": "Croeso! Un cais yr wythnos.",
    "translations.cy.welcome.2": "Pam mae hyn yn bwysig.",
}
IWF_CY = "Adrodd i'r IWF"


async def test_the_welsh_link_labels_are_beside_each_message_checked_and_kept(
    bot: Bot,
) -> None:
    async with bot.signed_in("olive") as olive:
        html = await page(olive, PATH)
        values = form_at(html, PATH)
        assert [values[LABEL(n)] for n in (1, 2, 3)] == ["", "", ""]
        assert "Welcome message 2: button label (Cymraeg)" in html
        # checked as a pack's, each problem beside its label
        wrong = {LABEL(1): "Dim dolen", LABEL(2): "L" * 41, LABEL(3): "Tri"}
        response = await olive.post(PATH, data=values | WELSH | wrong)
        assert response.status_code == 422
        assert field_error(response.text, LABEL(1)) == NO_LINK_MESSAGE
        assert field_error(response.text, LABEL(2)) == "is 41 characters long; at most 40 fit"
        assert field_error(response.text, LABEL(3)) == (
            "the welcome series has no message here to translate"
        )
        assert re.search(r'id="translation-cy" data-language="cy" open', response.text)
        # a good one is saved, shown again and exported as the pack's key
        response = await olive.post(PATH, data=values | WELSH | {LABEL(2): IWF_CY})
        assert response.status_code == 303, response.text[:400]
        (line,) = flashes(await page(olive, response.headers["location"]))
        assert line.endswith("welcome message 2: button label (Cymraeg) changed.")
        again = form_at(await page(olive, PATH), PATH)
        assert [again[LABEL(n)] for n in (1, 2, 3)] == ["", IWF_CY, ""]
        exported = tomllib.loads((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
        assert exported["campaign"]["translations"]["cy"]["welcome_link_labels"] == ["", IWF_CY]
        # a save that leaves it as it is keeps it; emptying it takes it out
        response = await olive.post(PATH, data=again | {"title": "One Step On"})
        assert response.status_code == 303, response.text[:400]
        kept = form_at(await page(olive, PATH), PATH)
        assert kept[LABEL(2)] == IWF_CY
        response = await olive.post(PATH, data=kept | {LABEL(2): ""})
        assert response.status_code == 303, response.text[:400]
        exported = tomllib.loads((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
        assert "welcome_link_labels" not in exported["campaign"]["translations"]["cy"]
