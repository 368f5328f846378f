"""The rooms of `sentiment/` and the one direction their imports may take (README, Layout)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sentiment"
# Along the data's way: a room may import the rooms before it, never one after it, and the two rooms of
# level 6 (training, scoring) never each other. Modules at the top of the package: checksums and jsonio
# are shared by all (level 0); cli, plot and __main__ are the command line's shell (level 7).
LEVELS = {"text": 1, "model": 2, "inference": 3, "corpora": 4, "evaluation": 5, "training": 6, "scoring": 6,
          "cli": 7, "plot": 7, "__main__": 7}


def room(module):
    """'sentiment.inference.predictor' -> 'inference'; a top-level shared module -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LEVELS else ""


def level(module):
    return LEVELS.get(room(module), 0)


def imports(path):
    """Every module `path` imports, at any depth (function bodies too), as absolute dotted names."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # "from . import bundle"
    return module, {name for name in found if name.split(".")[0] == "sentiment"}


def modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_one_way(path):
    module, imported = imports(path)
    wrong = []
    for name in imported:
        if not (name.startswith("sentiment.") and (ROOT / name.replace(".", "/")).exists()
                or (ROOT / (name.replace(".", "/") + ".py")).exists()):
            continue  # a name imported from a module, not a module
        later = level(name) > level(module)
        beside = level(name) == level(module) and room(name) != room(module) and level(module) < LEVELS["cli"]
        if later or beside:
            wrong.append(name)
    assert not wrong, f"{module} (level {level(module)}) imports {sorted(wrong)}, which come after it"


def test_every_room_is_known():
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert rooms == {name for name in LEVELS if name not in ("cli", "plot", "__main__")}


def test_the_direction_check_catches_a_wrong_import(tmp_path, monkeypatch):
    text = PACKAGE / "text"
    bad = text / "_probe_wrong_way.py"
    bad.write_text("from ..inference import predictor\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError, match="comes after it|come after it"):
            test_imports_go_one_way(bad)
    finally:
        bad.unlink()


def test_serving_defaults_are_read_without_mxnet(tmp_path):
    code = ("import sys, json; from sentiment.inference.kinds import serving_layout; "
            f"print(json.dumps([serving_layout({str(tmp_path)!r}, 2), 'mxnet' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[[2, 4], false]'


KIND_NAMES = {"glove", "minilm"}  # as bundles store them (sentiment.inference.kinds.KINDS)


def kind_name_comparisons(path):
    """Comparisons of a kind's stored name ("glove", "minilm") with anything, as 'line: source'."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            text = ast.get_source_segment(source, node)
            names = [n for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in KIND_NAMES]
            if names and "encoder" in text:
                found.append(f"{node.lineno}: {text}")
    return found


def test_only_the_kinds_ask_which_kind_a_model_is():
    """A kind of word vectors is one class in sentiment/inference/kinds.py: nothing else compares its name."""
    paths = [p for p in (*PACKAGE.rglob("*.py"), *(ROOT / "service").rglob("*.py")) if p.name != "kinds.py"]
    found = {str(p.relative_to(ROOT)): kind_name_comparisons(p) for p in paths}
    assert {p: f for p, f in found.items() if f} == {}


def test_the_kind_names_are_those_stored():
    from sentiment.inference.kinds import KINDS

    assert set(KINDS) == KIND_NAMES


def test_the_name_check_finds_a_comparison(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('if config["model"].get("encoder", "glove") != "glove":\n    pass\n', encoding="utf-8")
    assert kind_name_comparisons(probe) == ['1: config["model"].get("encoder", "glove") != "glove"']
