"""The demo page in real headless Chromium (Debian's chromium and chromium-driver)."""
import os
import shutil

import pytest
import requests

from tests.helpers import ROOT, Gunicorn

SENTENCE = "the script is dull and the ending is awful ."
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (make test installs them as root)")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def ask(browser, text):
    """Type a text into the page and submit it, as a person would."""
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "submit").click()


def test_page_shows_label_and_heatmap(small_bundle, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    server = Gunicorn(small_bundle, workers=1, log_path=tmp_path / "log").wait("/ready")
    try:
        browser.get(server.url + "/")
        ask(browser, SENTENCE)
        WebDriverWait(browser, 20).until(ready.visibility_of_element_located((By.ID, "label")))
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "label").text)
        expected = requests.post(server.url + "/predict", json={"text": SENTENCE}).json()
        assert browser.find_element(By.ID, "label").text == expected["label"]
        cells = browser.find_elements(By.CSS_SELECTOR, "#sentences .heatmap .cell")
        tokens = browser.find_elements(By.CSS_SELECTOR, "#sentences .heatmap .col-label")
        assert len(tokens) == 10 and len(cells) == len(tokens) ** 2
        assert [t.get_attribute("textContent") for t in tokens][:3] == ["the", "script", "is"]
        assert browser.find_element(By.ID, "unknown").text == "Every word is known to the model."
        # The contribution view: a diverging scale, hover values, and the top pairs as a readable list.
        attention_colours = [c.value_of_css_property("background-color") for c in cells]
        browser.find_element(By.ID, "view-contributions").click()
        cells = browser.find_elements(By.CSS_SELECTOR, "#sentences .heatmap .cell")
        assert len(cells) == 100 and [c.value_of_css_property("background-color") for c in cells] != attention_colours
        expected = requests.post(server.url + "/predict", json={"text": SENTENCE, "contributions": True}).json()
        values = [float(c.get_attribute("data-value")) for c in cells]
        assert values == pytest.approx([v for row in expected["contributions"] for v in row], abs=1e-6)
        assert "toward the sentence's label" in browser.find_element(By.ID, "legend-high").text
        ActionChains(browser).move_to_element(cells[0]).perform()
        assert browser.find_element(By.ID, "hover").text.startswith("(the, the): ")
        items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#sentences .pairs li")]
        top = expected["top_pairs"][0]
        assert len(items) == 5 and items[0].startswith(f"{top['first']} + {top['second']}: ")
        assert items[0].endswith(("toward " if top["contribution"] >= 0 else "against ") + expected["label"])
        browser.find_element(By.ID, "view-attention").click()
        cells = browser.find_elements(By.CSS_SELECTOR, "#sentences .heatmap .cell")
        assert [c.value_of_css_property("background-color") for c in cells] == attention_colours
        # A review of several sentences: one heatmap each, with its label and its weight in the verdict.
        review = "the script is dull . the ending is awful . what a wonderful cast !"
        ask(browser, review)
        WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sentences .sentence")) == 3)
        expected = requests.post(server.url + "/predict", json={"text": review}).json()
        blocks = browser.find_elements(By.CSS_SELECTOR, "#sentences .sentence")
        for block, sentence in zip(blocks, expected["sentences"]):
            assert sentence["text"] in block.text and sentence["label"] in block.text
            assert f"{round(sentence['weight'] * 100)}% of the verdict" in block.text
            n = len(sentence["tokens"])
            assert len(block.find_elements(By.CSS_SELECTOR, ".heatmap .cell")) == n * n
        assert browser.find_element(By.ID, "label").text == expected["label"]
        ask(browser, "zorblat quenth dull")
        WebDriverWait(browser, 20).until(lambda d: "zorblat" in d.find_element(By.ID, "unknown").text)
        assert browser.find_element(By.ID, "unknown").text.startswith("2 of 3 words unknown to the model: zorblat, "
                                                                       "quenth (mostly unknown")
        shots = ROOT / "artifacts"
        shots.mkdir(exist_ok=True)
        browser.save_screenshot(str(shots / "page.png"))  # kept out of git (.gitignore)
        assert os.path.getsize(shots / "page.png") > 1000
    finally:
        server.stop()


def test_the_page_lists_every_short_field_of_the_answer_even_a_new_one(small_bundle, browser, tmp_path):
    """A field added to the answer's dataclass (tests/extended_answer.py) reaches the page with no edit to it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.extended_answer import FIELD, VALUE

    server = Gunicorn(small_bundle, workers=1, app="tests.extended_app:app", log_path=tmp_path / "log").wait("/ready")
    try:
        browser.get(server.url + "/")
        ask(browser, SENTENCE)
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#details dt"))
        terms = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "#details dt")]
        values = [v.get_attribute("textContent") for v in browser.find_elements(By.CSS_SELECTOR, "#details dd")]
        shown = dict(zip(terms, values))
        expected = requests.post(server.url + "/predict", json={"text": SENTENCE, "contributions": True}).json()
        assert terms[:3] == ["label", "score", "truncated"] and shown["label"] == expected["label"]
        assert shown[FIELD] == f"{VALUE:.4f}" and shown["model"] == expected["model"]
    finally:
        server.stop()


def test_the_page_shows_which_sentences_decided_a_review(document_bundle, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    review = "the plot is dull . the cast is awful ! what a wonderful , gripping ending ."
    server = Gunicorn(document_bundle, workers=1, log_path=tmp_path / "log").wait("/ready")
    try:
        browser.get(server.url + "/")
        ask(browser, review)
        WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sentences .share")) == 3)
        expected = requests.post(server.url + "/predict", json={"text": review, "contributions": True}).json()
        shares = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#sentences .share")]
        for text, sentence in zip(shares, expected["sentences"]):
            assert text.endswith(("+" if sentence["share"] >= 0 else "\u2212") + f"{abs(sentence['share']):.2f}")
        assert browser.find_element(By.ID, "review").is_displayed()
        pairs = browser.find_elements(By.CSS_SELECTOR, "#review-pairs li")
        assert len(pairs) == len(expected["top_pairs"]) and "(sentence " in pairs[0].text
    finally:
        server.stop()


def test_the_page_shows_what_a_review_praises_and_blames(aspect_bundle, small_bundle, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    review = "the acting is superb and the score is bland ."
    server = Gunicorn(aspect_bundle, workers=1, log_path=tmp_path / "log").wait("/ready")
    try:
        browser.get(server.url + "/")
        ask(browser, review)
        WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#aspect-bars .aspect")) == 2)
        expected = requests.post(server.url + "/predict", json={"text": review, "aspects": True,
                                                                "contributions": True}).json()["aspects"]
        rows = browser.find_elements(By.CSS_SELECTOR, "#aspect-bars .aspect")
        assert [r.find_element(By.TAG_NAME, "strong").text for r in rows] == [a["target"] for a in expected]
        for row, aspect in zip(rows, expected):
            bar = row.find_element(By.CSS_SELECTOR, ".praise, .blame")
            assert bar.get_attribute("class") == ("praise" if aspect["score"] >= 0 else "blame")
            assert f"{aspect['top_pairs'][0]['first']} + {aspect['top_pairs'][0]['second']}" in row.text
    finally:
        server.stop()
    server = Gunicorn(small_bundle, workers=1, log_path=tmp_path / "log2").wait("/ready")
    try:  # a bundle without aspect heads: the page asks for none, and shows none
        browser.get(server.url + "/")
        ask(browser, review)
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "label").text)
        assert not browser.find_element(By.ID, "aspects").is_displayed()
    finally:
        server.stop()
