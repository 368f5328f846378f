"""The answer to a text: which fields exist, in what order, and what each means, decided here alone.

`TextAnswer` holds the text's verdict and its `SentenceAnswer`s. Their dataclass fields, in order,
are the keys of every JSON answer (the service, `sentiment predict`, the scorer's JSONL), the
scorer's CSV columns (`csv_columns`), the OpenAPI schema (`schema`) and the page's details (it
reads the schema). A field added here appears in all of them.

A field marked optional is left out while it is None (a matrix nobody asked for); the others are
always written, null included (the score of a model whose labels are not polar).
"""
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Options:
    """What an answer holds beyond the verdict and the sentences' own answers.

    attention: the attention matrices; contributions: the contribution matrices, their bias and the
    runner-up class; top_pairs: list this many pairs by |contribution| (None: none; computing them needs the
    contributions); tokens: the words as read; sentences: each sentence's answer; model: the model's version.
    """
    attention: bool = True
    contributions: bool = False
    top_pairs: object = None
    tokens: bool = True
    sentences: bool = True
    model: bool = True

    @property
    def needs_contributions(self):
        return self.contributions or self.top_pairs is not None


_MATRIX = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
_PROBABILITIES = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_PAIR = {"type": "object", "required": ["first", "second", "i", "j", "attention", "contribution"], "properties": {
    "first": {"type": "string"}, "second": {"type": "string"}, "i": {"type": "integer"}, "j": {"type": "integer"},
    "attention": {"type": "number"}, "contribution": {"type": "number"},
    "sentence": {"type": "integer", "description": "in a text's top_pairs: the index of the pair's sentence"}}}


def described(schema, description, optional=False):
    """A dataclass field's metadata: its JSON schema and description; optional fields are left out while None."""
    default = {"default": None} if optional else {}
    return field(metadata={"schema": dict(schema, description=description), "optional": optional}, **default)


_TRUNCATED = ("true when something was cut (the text past SENTIMENT_MAX_TEXT_CHARS, sentences past the limit, a "
              "word longer than the model reads)")
_UNKNOWN = ("the tokens the model's vocabulary does not hold, in text order; many of them mean a text unlike the "
            "training data (another language, say)")


@dataclass(kw_only=True)
class Matrices:
    """What an answer that reads words carries besides its label: a sentence's always, a text's when it is one
    sentence. Each is left out unless asked for."""
    runner_up: str = described({"type": "string"}, "with contributions: the class the log-odds compare against",
                               optional=True)
    contribution_bias: float = described({"type": "number"}, "with contributions: the share of the log-odds owed "
                                                             "to no pair", optional=True)
    top_pairs: list = described({"type": "array", "items": _PAIR}, "with contributions: the pairs with the largest "
                                "|contribution|, largest first; for a text of several sentences answered by a "
                                "document level, pairs of all its sentences, by their share of the text's log-odds",
                                optional=True)
    tokens: list = described(dict(_STRINGS, minItems=1), "the words as the model read them", optional=True)
    attention: object = described(_MATRIX, "len(tokens) x len(tokens). attention[i][j] weighs the word pair "
                                  "(tokens[i], tokens[j]), whose input is [x_i; x_j]; all entries sum to 1",
                                  optional=True)
    contributions: object = described(_MATRIX, "with contributions: len(tokens) x len(tokens), oriented like "
                                      "attention: contributions[i][j] is the word pair's signed share of "
                                      "ln(p[label] / p[runner_up]); all entries plus contribution_bias add up to it "
                                      "exactly. Positive: toward the label", optional=True)

    def to_dict(self):
        """The answer as JSON writes it: its fields in order, an optional one left out while None."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata["optional"]:
                continue
            nested = isinstance(value, list) and value and isinstance(value[0], Matrices)
            out[f.name] = [part.to_dict() for part in value] if nested else value
        return out


@dataclass(kw_only=True)
class _Sentence:
    text: str = described({"type": "string"}, "the sentence as posted")
    start: int = described({"type": "integer", "minimum": 0}, "character offset of the sentence in the text")
    end: int = described({"type": "integer", "minimum": 0}, "text[start:end] is the sentence")
    weight: float = described({"type": "number", "minimum": 0, "maximum": 1},
                              "the sentence's share in the text's verdict; the weights sum to 1")
    label: str = described({"type": "string"}, "the most probable class: negative, neutral or positive for the "
                                               "default model (a retrained model answers with its own labels)")
    probabilities: dict = described(_PROBABILITIES, "one probability per class")
    score: float = described({"type": "number", "minimum": -1, "maximum": 1, "nullable": True},
                             "the direction and strength in [-1, 1], 0 for a sure neutral: the rating head's reading, "
                             "or p(positive) - p(negative) for a model without one; null for a model whose labels "
                             "include neither")
    truncated: bool = described({"type": "boolean"}, _TRUNCATED)
    unknown_tokens: list = described(_STRINGS, _UNKNOWN)


@dataclass(kw_only=True)
class SentenceAnswer(Matrices, _Sentence):
    """One sentence of a text: where it is, its weight in the verdict, its own answer and its matrices."""
    share: float = described({"type": "number"}, "with contributions, in a text answered by a document level: the "
                             "sentence's exact signed share of the text's ln(p[label] / p[runner_up]); the shares "
                             "plus the text's contribution_bias add up to it", optional=True)
    document_contributions: object = described(_MATRIX, "with contributions, in a text answered by a document level: "
                                               "each word pair's share of the text's log-odds, oriented like "
                                               "attention; its entries add up to share", optional=True)


@dataclass(kw_only=True)
class _Text:
    label: str = described({"type": "string"}, "the text's verdict: negative, neutral, positive, or mixed when its "
                                               "positive and negative sentences are balanced (a retrained model "
                                               "without those labels answers with its own)")
    probabilities: dict = described(_PROBABILITIES, "the sentences' probabilities weighted as in the verdict")
    score: float = described({"type": "number", "minimum": -1, "maximum": 1, "nullable": True},
                             "the sentences' scores weighted as in the verdict, in [-1, 1]")
    truncated: bool = described({"type": "boolean"}, _TRUNCATED)
    sentences_dropped: int = described({"type": "integer", "minimum": 0},
                                       "sentences past SENTIMENT_MAX_SENTENCES, left out (truncated is true)")
    unknown_tokens: list = described(_STRINGS, _UNKNOWN)
    model: str = described({"type": "string"}, "the model's version", optional=True)


@dataclass(kw_only=True)
class TextAnswer(Matrices, _Text):
    """A whole text: its verdict over its sentences, and the sentences. A text of one sentence also carries that
    sentence's matrices at the top, as a sentence answer always has."""
    sentences: list = described({"type": "array", "items": {"$ref": "#/components/schemas/Sentence"}, "minItems": 1},
                                "each sentence: offsets, weight in the verdict and its own answer", optional=True)
    aspects: list = described({"type": "array", "items": {"$ref": "#/components/schemas/Aspect"}},
                              "with aspects asked for: each target in text order, then the target strings that do "
                              "not occur", optional=True)


@dataclass(kw_only=True)
class _Aspect:
    target: str = described({"type": "string"}, "the target as it stands in the text (or as asked, when not found)")
    found: bool = described({"type": "boolean"}, "false for a target string that does not occur in the text: the "
                                                 "entry then holds nothing else")
    start: int = described({"type": "integer", "minimum": 0}, "character offset of the target in the text",
                           optional=True)
    end: int = described({"type": "integer", "minimum": 0}, "text[start:end] is the target", optional=True)
    sentence: int = described({"type": "integer", "minimum": 0}, "the index of the target's sentence in sentences",
                              optional=True)
    context: list = described({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                              "the first and last sentence the target's answer read: its own and the ones either "
                              "side; its tokens and matrices run over them, end to end", optional=True)
    target_tokens: list = described({"type": "array", "items": {"type": "integer"}},
                                    "the indices of the target's own words in tokens", optional=True)
    label: str = described({"type": "string"}, "the target's polarity: negative, neutral or positive", optional=True)
    probabilities: dict = described(_PROBABILITIES, "one probability per class", optional=True)
    score: float = described({"type": "number", "minimum": -1, "maximum": 1},
                             "p(positive) - p(negative) in [-1, 1]", optional=True)


@dataclass(kw_only=True)
class AspectAnswer(Matrices, _Aspect):
    """One target of a text: where it is, its polarity, and (on request) the word pairs that decided it, with their
    exact shares of its log-odds. Its tokens and matrices cover its context; only pairs that hold a target word are
    weighed by the default aspect head."""


# The matrices a one-sentence text repeats at the top from its sentence.
SENTENCE_MATRICES = tuple(f.name for f in fields(Matrices))


def names(answer_class):
    """The field names of an answer class, in order."""
    return [f.name for f in fields(answer_class)]


def schema(answer_class, description):
    """The OpenAPI schema of an answer class: its fields' schemas, in order; required are those always written."""
    return {"type": "object", "description": description,
            "required": [f.name for f in fields(answer_class) if not f.metadata["optional"]],
            "properties": {f.name: f.metadata["schema"] for f in fields(answer_class)}}


# The scorer's CSV: the record's place, the label and one probability column per class first, as spreadsheets
# read them; every other field of TextAnswer follows in this order, and any field not named here after them.
CSV_LEAD = ("id", "source", "line", "label", "probabilities", "score", "truncated", "error", "unknown_tokens",
            "top_pairs", "tokens", "attention", "runner_up", "contribution_bias", "contributions", "sentences_dropped")


def csv_columns(labels):
    """The scorer's CSV header: probabilities spread over p_<label> columns; `model` is in the summary, not a column."""
    rest = [name for name in names(TextAnswer) if name not in CSV_LEAD and name != "model"]
    columns = []
    for name in (*CSV_LEAD, *rest):
        columns.extend(f"p_{label}" for label in labels) if name == "probabilities" else columns.append(name)
    return columns
