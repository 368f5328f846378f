"""A behavioural test suite in the spirit of CheckList (Ribeiro et al., ACL 2020).

Templates and word lists written for this project, one expected label per sentence, grouped by
capability. Nothing here is ever trained on: the suite measures what a model learned from real
data. Prints the pass rate per capability for the model, VADER and TF-IDF + LR side by side.

    python -m sentiment.evaluation.behaviour [--model models/default] [--json bench/results/behaviour.json]
"""
import argparse
import itertools
import json
import random
from pathlib import Path

POS = ["great", "excellent", "wonderful", "fantastic", "amazing", "good", "enjoyable", "superb", "delightful",
       "impressive", "lovely", "brilliant", "perfect", "outstanding"]
NEG = ["terrible", "awful", "bad", "horrible", "boring", "disappointing", "poor", "dreadful", "mediocre", "annoying",
       "lousy", "dull", "useless", "weak"]
NOUNS = {
    "film": ["movie", "film", "plot", "acting", "soundtrack", "ending", "script", "cast"],
    "product": ["phone", "camera", "battery", "screen", "charger", "keyboard", "blender", "headset"],
    "restaurant": ["food", "service", "pasta", "waiter", "dessert", "coffee", "pizza", "staff"],
}
ALL_NOUNS = [noun for nouns in NOUNS.values() for noun in nouns]
INTENSIFIERS = ["really", "very", "extremely", "incredibly", "absolutely", "truly", "so"]
NAMES = ["Maria", "Kenji", "Oluwaseun", "Ingrid", "Rahul", "Chloe", "Dmitri", "Aisha"]
FILLERS = ["To be honest, {s}", "@{name} {s}", "{s} http://example.com/r/{n}", "{name} and I agree: {s}",
           "{s} #{noun}", "Just so you know, {s}", "{s} (via @{name})", "Update from {name}: {s}"]
DOMAIN = {
    "product": ({"works perfectly": 1, "was easy to set up": 1, "is worth every penny": 1,
                 "exceeded my expectations": 1, "holds a charge for days": 1, "arrived quickly and works great": 1,
                 "stopped working after a week": 0, "broke the first day": 0, "is a waste of money": 0,
                 "keeps crashing": 0, "died after two days": 0, "feels cheap and flimsy": 0},
                ["phone", "camera", "battery", "charger", "headset", "blender"]),
    "restaurant": ({"was delicious": 1, "was friendly and attentive": 1, "was cooked to perfection": 1,
                    "was fresh and tasty": 1, "made our evening": 1, "was worth the wait": 1,
                    "was cold and bland": 0, "was rude": 0, "was overpriced and tiny": 0, "was undercooked": 0,
                    "made me sick": 0, "took an hour to arrive": 0},
                   ["food", "service", "pasta", "waiter", "dessert", "pizza"]),
    "film": ({"kept me on the edge of my seat": 1, "is an instant classic": 1, "made me laugh out loud": 1,
              "is a must-see": 1, "moved me to tears": 1, "is a joy to watch": 1,
              "put me to sleep": 0, "was a waste of two hours": 0, "fell flat": 0, "made no sense": 0,
              "dragged on forever": 0, "is a mess": 0},
             ["movie", "film", "plot", "ending", "script", "sequel"]),
}

# Events that say little by themselves, and emoticons that then decide.
EVENTS = ["The package came today", "Back at work on Monday", "Just got home from the dentist",
          "My flight moved to 6 am", "Dinner at my parents' place tonight", "Finished the last chapter",
          "New phone arrived in the mail", "Spent the whole day at the office", "Watching the game with Dmitri",
          "Moving to a new flat next week"]
EMOTICONS = {":)": 1, ":-)": 1, ":D": 1, ";)": 1, "<3": 1, "=)": 1,
             ":(": 0, ":-(": 0, ":'(": 0, ":/": 0, ">:(": 0, "=(": 0}


# Factual statements whose words often carry sentiment elsewhere ("killer", "crash", "dark", "cheap"):
# the raters would put them at 0, so the expected answer is neutral.
NEUTRAL_SUBJECTS = ["The killer whale exhibit", "The crash course", "The dark comedy festival", "The horror film night",
                    "The free clinic", "The happy hour menu", "The fine arts building", "The lost and found desk",
                    "The emergency exit", "The grand prize draw", "The bitter melon stall", "The sweet corn harvest",
                    "The cheap seats section", "The sick bay", "The hot sauce aisle", "The cold storage room"]
NEUTRAL_FACTS = ["opens at nine", "starts on Monday", "is on the second floor", "is listed on page four",
                 "was announced in March", "is two blocks from the station", "moved to Main Street last year",
                 "closes at six on Sundays", "is described in the second chapter", "takes about forty minutes"]
NEUTRAL_FIXED = ["The battery is removable.", "The charger has a two-metre cable.", "The screen is six inches wide.",
                 "The case comes in black, blue and red.", "A dark comedy set in Ohio.", "The package arrived on Tuesday.",
                 "I ordered the blue one.", "The hotel is located two blocks from the station.",
                 "The film was shot in Morocco in 2019.", "The blender has three speeds and a pulse button.",
                 "The restaurant seats forty people.", "The sequel is due out next spring."]


def _label(positive):
    return "positive" if positive else "negative"


def _sample(items, n, rng):
    items = sorted(set(items))
    return items if len(items) <= n else rng.sample(items, n)


def vocabulary(rng, n):
    templates = ["The {noun} is {adj}.", "What a {adj} {noun}!", "I thought the {noun} was {adj}.",
                 "Overall a {adj} {noun}."]
    return _sample([(t.format(noun=noun, adj=adj), _label(adj in POS))
                    for t, noun, adj in itertools.product(templates, ALL_NOUNS, POS + NEG)], n, rng)


def negated_positive(rng, n):
    templates = ["The {noun} is not {adj}.", "The {noun} wasn't {adj} at all.", "I don't think the {noun} is {adj}.",
                 "The {noun} was never {adj}.", "Not a {adj} {noun}.", "The {noun} isn't {adj}."]
    return _sample([(t.format(noun=noun, adj=adj), "negative")
                    for t, noun, adj in itertools.product(templates, ALL_NOUNS, POS)], n, rng)


def negated_negative(rng, n):
    templates = ["The {noun} is not {adj}.", "The {noun} wasn't {adj} at all.", "Not {adj} at all.",
                 "The {noun} was never {adj}.", "The {noun} isn't {adj}.", "Not a {adj} {noun} at all."]
    fixed = ["No complaints about the {noun}.", "Nothing wrong with the {noun}.", "I have no complaints.",
             "Five stars, no complaints.", "Nothing bad to say about the {noun}.", "Not bad at all."]
    items = [(t.format(noun=noun, adj=adj), "positive") for t, noun, adj in itertools.product(templates, ALL_NOUNS, NEG)]
    items += [(t.format(noun=noun), "positive") for t, noun in itertools.product(fixed, ALL_NOUNS)]
    return _sample(items, n, rng)


def contrast(rng, n):
    templates = ["The {noun} was {a}, but the {noun2} was {b}.", "I expected a {a} {noun}, but it was {b}.",
                 "The {noun} is {a} but the {noun2} is {b}.", "Although the {noun} was {a}, the {noun2} was {b}."]
    items = []
    for t, (domain, nouns), a, b in itertools.product(templates, NOUNS.items(), POS + NEG, POS + NEG):
        if (a in POS) != (b in POS):
            noun, noun2 = rng.sample(nouns, 2)
            items.append((t.format(noun=noun, noun2=noun2, a=a, b=b), _label(b in POS)))
    return _sample(items, n, rng)


def intensifiers(rng, n):
    templates = ["The {noun} was {i} {adj}.", "{I} {adj} {noun}!", "I found the {noun} {i} {adj}."]
    return _sample([(t.format(noun=noun, i=i, I=i.capitalize(), adj=adj), _label(adj in POS))
                    for t, noun, i, adj in itertools.product(templates, ALL_NOUNS, INTENSIFIERS, POS + NEG)], n, rng)


def filler(rng, n):
    items = []
    for template, noun, adj in itertools.product(FILLERS, ALL_NOUNS, POS + NEG):
        sentence = f"The {noun} was {adj}." if template.startswith("{s}") else f"the {noun} was {adj}."
        items.append((template.format(s=sentence, name=rng.choice(NAMES), n=rng.randint(10, 99), noun=noun),
                      _label(adj in POS)))
    return _sample(items, n, rng)


def domain_vocabulary(rng, n):
    items = [(f"The {noun} {phrase}.", _label(positive))
             for phrases, nouns in DOMAIN.values() for phrase, positive in phrases.items() for noun in nouns]
    return _sample(items, n, rng)


def emoticons(rng, n):
    items = [(f"{event} {emoticon}", _label(positive)) for event in EVENTS for emoticon, positive in EMOTICONS.items()]
    return _sample(items, n, rng)


def neutral(rng, n):
    items = [(f"{subject} {fact}.", "neutral") for subject in NEUTRAL_SUBJECTS for fact in NEUTRAL_FACTS]
    return [(text, "neutral") for text in NEUTRAL_FIXED] + _sample(items, n - len(NEUTRAL_FIXED), rng)


CAPABILITIES = {"vocabulary": vocabulary, "negated positive": negated_positive, "negated negative": negated_negative,
                "contrast (but)": contrast, "intensifiers": intensifiers, "irrelevant filler": filler,
                "product, restaurant, film": domain_vocabulary, "emoticons": emoticons, "neutral statements": neutral}


def suite(per_capability=80, seed=0):
    """{capability: [(sentence, expected label)]}, deterministic."""
    rng = random.Random(seed)
    return {name: make(rng, per_capability) for name, make in CAPABILITIES.items()}


def pass_rates(predict, cases):
    """{capability: share passed} plus 'overall' (mean over all sentences) and 'failures' (a few examples)."""
    rates, passed_all, total, failures = {}, 0, 0, {}
    for name, items in cases.items():
        predicted = predict([text for text, _ in items])
        passed = [p == expected for p, (_, expected) in zip(predicted, items)]
        rates[name] = sum(passed) / len(items)
        passed_all, total = passed_all + sum(passed), total + len(items)
        failures[name] = [text for ok, (text, _) in zip(passed, items) if not ok][:3]
    rates["overall"] = passed_all / total
    return rates, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--json", default="bench/results/behaviour.json")
    args = parser.parse_args()
    from ..corpora.datasets import split_files
    from ..corpora.labelled import load_many
    from ..inference.predictor import Predictor
    from .baselines import TfidfLogReg, Vader

    cases = suite()
    model = Predictor.load(args.model)
    texts, labels = load_many(split_files("train"))[:2]
    systems = {f"model {model.version}": model.predict, "VADER": Vader().fit(texts, labels).predict,
               "TF-IDF + LR": TfidfLogReg().fit(texts, labels).predict}
    results = {name: pass_rates(predict, cases) for name, predict in systems.items()}
    print(f"{'capability':28s}" + "".join(f"{name:>20s}" for name in systems) + f"{'n':>6s}")
    for capability in [*cases, "overall"]:
        n = len(cases[capability]) if capability in cases else sum(map(len, cases.values()))
        print(f"{capability:28s}" + "".join(f"{results[name][0][capability]:>20.1%}" for name in systems) + f"{n:>6d}")
    print("\nmodel failures (first three per capability):")
    for capability, texts in results[f"model {model.version}"][1].items():
        for text in texts:
            print(f"  {capability}: {text}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({name: r[0] for name, r in results.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
