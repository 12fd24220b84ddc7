"""Suite files: expansion, sweeps, exclusions, and one-line errors naming file, key and values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndebench.errors import InputError
from ndebench.plugins import load_registry
from ndebench.suite import load_suite

GOOD = """
[suite]
name = "t"
seeds = [0, 1]

[matrix]
backend = ["toy"]
task = ["spiral"]
solver = ["euler"]
adjoint = ["discrete"]
regularizer = ["none", "ernode"]

[params]
train_steps = 3
"""


@pytest.fixture
def reg(toy_env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_registry()


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_expansion_and_defaults(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    suite = load_suite(write(tmp_path, GOOD), reg)
    assert len(suite.cells) == 4
    cell = suite.cells[0]
    assert cell.mode == "eager" and cell.device == "cpu"
    assert cell.params["train_steps"] == 3
    assert cell.params["rtol"] == 1e-5  # the controller's default
    ernode = next(c for c in suite.cells if c.regularizer == "ernode")
    assert ernode.component("regularizer") == {"weight": 0.01, "agg": "mean"}


def test_sweeps_and_per_value_params(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    text = (
        GOOD
        + """
rtol = [1e-3, 1e-5, 1e-7]

[params.regularizer.ernode]
weight = [0.1, 1.0]
agg = "sum"

[params.task.spiral]
n_train = 32
"""
    )
    suite = load_suite(write(tmp_path, text), reg)
    # none: 2 seeds x 3 rtol; ernode: 2 seeds x 3 rtol x 2 weights
    assert len(suite.cells) == 6 + 12
    assert set(suite.swept) == {"rtol", "weight"}
    ern = [c for c in suite.cells if c.regularizer == "ernode"]
    assert {c.component("regularizer")["weight"] for c in ern} == {0.1, 1.0}
    assert all(c.component("regularizer")["agg"] == "sum" for c in ern)
    assert all(c.component("task")["n_train"] == 32 for c in suite.cells)
    none = next(c for c in suite.cells if c.regularizer == "none")
    assert none.swept == ("rtol",)
    assert {c.swept_value("rtol") for c in suite.cells} == {1e-3, 1e-5, 1e-7}


def test_exclude(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    text = GOOD + '\n[[exclude]]\nregularizer = "ernode"\nseed = 1\n'
    suite = load_suite(write(tmp_path, text), reg)
    assert len(suite.cells) == 3 and suite.excluded == 1


def test_list_valued_task_param_is_not_a_sweep(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    text = GOOD + "\n[params.task.spiral]\nhidden = [16, 16]\n"
    suite = load_suite(write(tmp_path, text), reg)
    assert len(suite.cells) == 4
    assert suite.cells[0].component("task")["hidden"] == [16, 16]


BAD = [
    ("malformed TOML", "[suite\nname='x'", "not valid TOML"),
    ("unknown section", GOOD + "\n[extra]\na = 1\n", "extra"),
    ("no suite table", GOOD.replace('[suite]\nname = "t"\nseeds = [0, 1]\n', ""), "suite"),
    ("no name", GOOD.replace('name = "t"\n', ""), "suite.name"),
    ("bad name chars", GOOD.replace('name = "t"', 'name = "a b/c"'), "suite.name"),
    ("unknown suite key", GOOD.replace("seeds", 'colour = "red"\nseeds'), "suite.colour"),
    ("seeds not ints", GOOD.replace("seeds = [0, 1]", 'seeds = ["a"]'), "suite.seeds"),
    ("negative seed", GOOD.replace("seeds = [0, 1]", "seeds = [-1]"), "suite.seeds"),
    ("empty seeds", GOOD.replace("seeds = [0, 1]", "seeds = []"), "suite.seeds"),
    ("negative timeout", GOOD.replace("seeds", "timeout_s = -5\nseeds"), "suite.timeout_s"),
    ("timeout wrong type", GOOD.replace("seeds", 'timeout_s = "long"\nseeds'), "suite.timeout_s"),
    ("no matrix", GOOD.split("[matrix]")[0], "matrix"),
    ("missing axis", GOOD.replace('solver = ["euler"]\n', ""), "matrix.solver"),
    ("unknown axis", GOOD.replace("[matrix]", '[matrix]\nflavour = ["x"]'), "matrix.flavour"),
    ("empty axis", GOOD.replace('solver = ["euler"]', "solver = []"), "matrix.solver"),
    ("axis not strings", GOOD.replace('solver = ["euler"]', "solver = [1]"), "matrix.solver"),
    (
        "duplicate name",
        GOOD.replace('["none", "ernode"]', '["none", "none"]'),
        "matrix.regularizer",
    ),
    ("unknown backend", GOOD.replace('["toy"]', '["tooy"]'), "did you mean 'toy'"),
    ("unknown solver", GOOD.replace('["euler"]', '["eulr"]'), "did you mean 'euler'"),
    ("unknown regularizer", GOOD.replace('"ernode"]', '"ernod"]'), "did you mean 'ernode'"),
    ("unknown task", GOOD.replace('["spiral"]', '["spirale"]'), "did you mean 'spiral'"),
    ("unknown mode", GOOD.replace("[matrix]", '[matrix]\nmode = ["jit"]'), "matrix.mode"),
    ("unknown device", GOOD.replace("[matrix]", '[matrix]\ndevice = ["tpu"]'), "matrix.device"),
    ("unknown param", GOOD + "lr = 0.1\n", "params.lr"),
    ("negative budget", GOOD.replace("train_steps = 3", "train_steps = -3"), "params.train_steps"),
    ("zero batch", GOOD + "batch_size = 0\n", "params.batch_size"),
    (
        "wrong param type",
        GOOD.replace("train_steps = 3", 'train_steps = "many"'),
        "params.train_steps",
    ),
    ("float for int", GOOD.replace("train_steps = 3", "train_steps = 3.5"), "params.train_steps"),
    ("bool for number", GOOD + "rtol = true\n", "params.rtol"),
    ("bad dtype", GOOD + 'dtype = "float16"\n', "params.dtype"),
    ("empty sweep", GOOD + "rtol = []\n", "params.rtol"),
    (
        "unknown component param",
        GOOD + "\n[params.regularizer.ernode]\nwieght = 1.0\n",
        "params.regularizer.ernode.wieght",
    ),
    (
        "param for value not in matrix",
        GOOD + "\n[params.solver.tsit5]\nsteps = 3\n",
        "params.solver.tsit5",
    ),
    (
        "bad weight schedule",
        GOOD + '\n[params.regularizer.ernode]\nweight = {kind = "cosine"}\n',
        "params.regularizer.ernode.weight",
    ),
    ("unknown exclude key", GOOD + '\n[[exclude]]\ncolour = "x"\n', "exclude[0].colour"),
    ("empty exclude", GOOD + "\n[[exclude]]\n", "exclude[0]"),
    ("exclude everything", GOOD + '\n[[exclude]]\nbackend = "toy"\n', "exclude"),
    ("bad initial step", GOOD + 'initial_step = "guess"\n', "params.initial_step"),
]


@pytest.mark.parametrize(("what", "text", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_suites(tmp_path: Path, reg, what: str, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_suite(path, reg)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message
    assert needle in message


def test_unknown_name_lists_accepted_values(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, GOOD.replace('"ernode"]', '"zzz"]'))
    with pytest.raises(InputError, match=r"accepted: .*ernode.*none"):
        load_suite(path, reg)


def test_missing_and_directory_paths(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="no such suite file"):
        load_suite(tmp_path / "nope.toml", reg)
    with pytest.raises(InputError, match="is a directory"):
        load_suite(tmp_path, reg)


@settings(max_examples=40, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 1000), min_size=1, max_size=3, unique=True),
    rtols=st.lists(st.sampled_from([1e-2, 1e-3, 1e-4, 1e-6]), min_size=1, max_size=3, unique=True),
    regs=st.lists(
        st.sampled_from(["none", "ernode", "fault"]), min_size=1, max_size=3, unique=True
    ),
)
def test_matrix_size_is_the_product(seeds, rtols, regs) -> None:  # type: ignore[no-untyped-def]
    import os
    import tempfile

    old = os.environ.get("NDEBENCH_PLUGINS")
    os.environ["NDEBENCH_PLUGINS"] = "ndebench_toy"
    try:
        reg = load_registry()
    finally:
        if old is None:
            del os.environ["NDEBENCH_PLUGINS"]
        else:
            os.environ["NDEBENCH_PLUGINS"] = old
    text = f"""
[suite]
name = "h"
seeds = {seeds}
[matrix]
backend = ["toy"]
task = ["spiral"]
solver = ["euler"]
adjoint = ["discrete", "backsolve"]
regularizer = {regs!r}
[params]
rtol = {rtols!r}
""".replace("'", '"')
    with tempfile.TemporaryDirectory() as tmp:
        suite = load_suite(write(Path(tmp), text), reg)
    per = len(rtols) if len(rtols) > 1 else 1
    assert len(suite.cells) == len(seeds) * 2 * len(regs) * per
    keys = {(c.adjoint, c.regularizer, c.seed, c.params["rtol"]) for c in suite.cells}
    assert len(keys) == len(suite.cells)


def test_mode_left_out_runs_each_backend_in_its_default_mode(tmp_path: Path) -> None:
    """torch declares eager and JAX compiled as default: a suite naming both backends and no
    mode gets runnable cells on both (JAX has no eager mode), and the cell records the mode."""
    from ndebench.capabilities import unsupported_reason

    reg = load_registry()
    assert reg.backends["torch"].default_mode == "eager"
    assert reg.backends["jax"].default_mode == "compiled"
    text = GOOD.replace('backend = ["toy"]', 'backend = ["torch", "jax"]').replace(
        'solver = ["euler"]', 'solver = ["tsit5"]'
    )
    suite = load_suite(write(tmp_path, text), reg)
    modes = {(c.backend, c.mode) for c in suite.cells}
    assert modes == {("torch", "eager"), ("jax", "compiled")}
    assert len(suite.cells) == 8
    for cell in suite.cells:
        if reg.backend_unavailable(cell.backend) is None:
            assert unsupported_reason(reg, cell) is None, cell.label()
    # an explicit mode axis is taken as given (JAX eager cells are then unsupported)
    explicit = load_suite(
        write(tmp_path, text.replace("[matrix]", '[matrix]\nmode = ["eager"]')), reg
    )
    assert {c.mode for c in explicit.cells} == {"eager"} and len(explicit.cells) == 8


def test_task_tables_may_set_global_parameters_for_their_cells(tmp_path) -> None:
    """A paper suite trains each task with its own optimizer, budget and tolerances."""
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "t"\nseeds = [0]\n[matrix]\nbackend = ["torch"]\n'
        'task = ["spiral", "digits"]\nsolver = ["tsit5"]\nadjoint = ["discrete"]\n'
        'regularizer = ["none"]\n[params]\nlearning_rate = 0.01\n'
        '[params.task.digits]\nlearning_rate = 0.03\noptimizer = "adamax"\nlatent = 8\n'
        'lr_schedule = {kind = "inverse_decay", gamma = 1e-5}\n'
    )
    cells = {c.task: c for c in load_suite(path, load_registry()).cells}
    assert cells["spiral"].params["learning_rate"] == 0.01
    assert cells["spiral"].params["optimizer"] == "adam"
    digits = cells["digits"]
    assert digits.params["learning_rate"] == 0.03 and digits.params["optimizer"] == "adamax"
    assert digits.params["lr_schedule"]["gamma"] == 1e-5
    assert digits.component("task")["latent"] == 8 and "optimizer" not in digits.component("task")
    path.write_text(path.read_text().replace('optimizer = "adamax"', 'optimizer = "adamw"'))
    import pytest

    from ndebench.errors import InputError

    with pytest.raises(InputError, match=r"params\.task\.digits\.optimizer"):
        load_suite(path, load_registry())


def test_task_tables_set_regularizer_weights_per_task(tmp_path) -> None:
    import pytest

    from ndebench.errors import InputError
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    text = (
        '[suite]\nname = "t"\nseeds = [0]\n[matrix]\nbackend = ["torch"]\n'
        'task = ["spiral", "digits"]\nsolver = ["tsit5"]\nadjoint = ["discrete"]\n'
        'regularizer = ["none", "ernode"]\n[params.regularizer.ernode]\nweight = 0.5\n'
        "[params.task.digits.weight]\nernode = 0.01\n"
    )
    path = tmp_path / "s.toml"
    path.write_text(text)
    cells = {(c.task, c.regularizer): c for c in load_suite(path, load_registry()).cells}
    assert cells[("spiral", "ernode")].component("regularizer")["weight"] == 0.5
    assert cells[("digits", "ernode")].component("regularizer")["weight"] == 0.01
    path.write_text(text.replace("ernode = 0.01", "ernode = -1.0"))
    with pytest.raises(InputError, match=r"params\.task\.digits\.weight\.ernode"):
        load_suite(path, load_registry())
    path.write_text(text.replace("ernode = 0.01", "srnode = 0.01"))
    with pytest.raises(InputError, match="srnode"):
        load_suite(path, load_registry())


def test_task_weight_lists_sweep_that_tasks_weight(tmp_path) -> None:
    """``[params.task.<t>.weight] ernode = [a, b]`` sweeps ERNODE's weight on that task only
    (the weight scale depends on the task's loss); other tasks keep the regularizer's."""
    import pytest

    from ndebench.errors import InputError
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    text = (
        '[suite]\nname = "t"\nseeds = [0]\n[matrix]\nbackend = ["torch"]\n'
        'task = ["spiral", "digits"]\nsolver = ["tsit5"]\nadjoint = ["discrete"]\n'
        'regularizer = ["none", "ernode"]\n[params.regularizer.ernode]\nweight = [0.5, 5.0]\n'
        "[params.task.digits.weight]\nernode = [0.001, 0.01, 0.1]\n"
    )
    path = tmp_path / "s.toml"
    path.write_text(text)
    suite = load_suite(path, load_registry())
    assert "weight" in suite.swept
    got = sorted(
        (c.task, c.component("regularizer")["weight"])
        for c in suite.cells
        if c.regularizer == "ernode"
    )
    assert got == [("digits", 0.001), ("digits", 0.01), ("digits", 0.1),
                   ("spiral", 0.5), ("spiral", 5.0)]  # fmt: skip
    assert all("weight" in c.swept for c in suite.cells if c.regularizer == "ernode")
    assert len({c.to_dict().__repr__() for c in suite.cells}) == len(suite.cells) == 7
    for bad, why in (("[]", "sweeps nothing"), ("[0.1, 0.1]", "twice"), ("[0.1, -1.0]", ">= 0")):
        path.write_text(text.replace("[0.001, 0.01, 0.1]", bad))
        with pytest.raises(InputError, match=r"params\.task\.digits\.weight\.ernode") as err:
            load_suite(path, load_registry())
        assert why in str(err.value)
