"""clinic_pbx as OCA publishes addons: a wheel built with whool, installed next to Odoo.

Plain pytest tests (not Odoo test cases), like test_module_lifecycle: they build
the wheel ``odoo-addon-clinic_pbx`` from this checkout, read it, install it into
a new virtualenv beside the Odoo that runs this suite, and then install the
module into a new database whose addons path does not contain the checkout, so
Odoo can only find it in the ``odoo.addons`` namespace the wheel installed.

whool names the addon after the directory it builds in and packs the files git
tracks there. A checkout may be called anything (a worktree, a CI clone), so the
wheel is built from a copy of the checkout's tracked files, as they are on disk,
in a directory named ``clinic_pbx`` with a git repository of its own.
"""

import ast
import email.parser
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path, PurePosixPath

import lxml.etree
import lxml.html
import psycopg2
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import odoo

ADDON = "clinic_pbx"
ROOT = Path(__file__).resolve().parent.parent
DB = "clinic_pbx_wheel_" + str(os.getpid())
PREFIX = f"odoo/addons/{ADDON}/"
# What a working checkout holds beside the addon and a wheel must never carry:
# the repository, virtualenvs, Odoo state (config, filestores, the private
# PostgreSQL cluster of make test), caches and bytecode.
FORBIDDEN_PARTS = {
    ".git",
    ".venv",
    "venv",
    ".build",
    ".pgdata",
    "filestore",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "node_modules",
}
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".dump", ".sqlite", ".db")


def _run(argv, timeout=600, **kwargs):
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, (
        f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _manifest():
    return ast.literal_eval((ROOT / "__manifest__.py").read_text())


def _tracked_files():
    """The checkout's files as whool packs them: git's index, as on disk."""
    out = _run(["git", "ls-files", "-z"], cwd=ROOT).stdout
    return [name for name in out.split("\0") if name and os.path.lexists(ROOT / name)]


def _local_state(names):
    return [
        name
        for name in names
        if FORBIDDEN_PARTS & set(PurePosixPath(name).parts)
        or name.endswith(FORBIDDEN_SUFFIXES)
    ]


def test_checkout_tracks_no_local_state():
    """What git tracks is what whool packs: no virtualenv, database or cache."""
    tracked = _tracked_files()
    assert "__manifest__.py" in tracked
    assert not _local_state(tracked), _local_state(tracked)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("wheel")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def source_tree(workdir):
    """The checkout's tracked files in a git repository named clinic_pbx."""
    src = workdir / "src" / ADDON
    for name in _tracked_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            os.symlink(os.readlink(ROOT / name), src / name)
        else:
            shutil.copy2(ROOT / name, src / name)
    git = ["git", "-c", "user.name=build", "-c", "user.email=build@example.invalid"]
    _run(git + ["init", "-q"], cwd=src)
    _run(git + ["add", "-A"], cwd=src)
    _run(git + ["commit", "-q", "--no-gpg-sign", "-m", "build"], cwd=src)
    return src


@pytest.fixture(scope="module")
def wheel_path(source_tree, workdir):
    """The wheel built with pip and the installed whool, offline."""
    dist = workdir / "dist"
    env = dict(os.environ)
    env.pop("WHOOL_POST_VERSION_STRATEGY_OVERRIDE", None)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "-w", str(dist),
         str(source_tree)],
        env=env,
    )  # fmt: skip
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(wheel_path):
    """(file names, METADATA, Apps page or None) of the wheel."""
    with zipfile.ZipFile(wheel_path) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.HeaderParser().parsestr(
            archive.read(metadata_name).decode()
        )
        page = PREFIX + "static/description/index.html"
        description = archive.read(page) if page in names else None
    return names, metadata, description


def test_wheel_is_the_addon_named_and_versioned_as_oca_does(wheel_path, wheel):
    _names, metadata, _description = wheel
    manifest = _manifest()
    assert metadata["Name"] == f"odoo-addon-{ADDON}"
    assert metadata["Version"] == manifest["version"]
    assert wheel_path.name == (
        f"odoo_addon_{ADDON}-{manifest['version']}-py3-none-any.whl"
    )
    assert metadata["License"] == manifest["license"]
    assert metadata["Summary"] == " ".join(manifest["summary"].split())
    assert "Framework :: Odoo :: 18.0" in metadata.get_all("Classifier")


def test_wheel_requires_odoo_18_and_the_external_dependencies(wheel):
    _names, metadata, _description = wheel
    requirements = {
        canonicalize_name(req.name): req
        for req in map(Requirement, metadata.get_all("Requires-Dist"))
    }
    external = {
        canonicalize_name(name)
        for name in _manifest()["external_dependencies"]["python"]
    }
    assert {"phonenumbers", "pymysql"} <= external
    # Core addons (mail, crm, ...) come with Odoo: no odoo-addon-* requirement.
    assert set(requirements) == {"odoo"} | external
    odoo_versions = requirements["odoo"].specifier
    # 18.0 releases, including the Odoo this suite runs on, and no other series.
    for version in ("18.0", "18.0.post20250101", odoo.release.version):
        assert odoo_versions.contains(version, prereleases=True), version
    for version in ("17.0", "18.1", "19.0"):
        assert not odoo_versions.contains(version, prereleases=True), version
    # A checkout and Odoo.sh install requirements.txt instead: the same
    # packages with the same bounds.
    listed = {
        canonicalize_name(req.name): req.specifier
        for req in map(Requirement, _requirement_lines(ROOT / "requirements.txt"))
    }
    assert listed == {
        name: req.specifier for name, req in requirements.items() if name != "odoo"
    }


def _requirement_lines(path):
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _glob_regex(pattern):
    """A regular expression for an asset glob, read as Odoo's glob reads it."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?")
    return re.compile(regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "$")


def _asset_paths(assets):
    for entries in assets.values():
        for entry in entries:
            if isinstance(entry, str):
                yield entry
            elif entry[0] != "include":
                yield entry[-1]


def test_wheel_holds_what_the_manifest_loads_and_no_local_state(wheel, source_tree):
    names, _metadata, description = wheel
    assert all(
        name.startswith(PREFIX) or name.split("/")[0].endswith(".dist-info")
        for name in names
    ), [n for n in names if not n.startswith(PREFIX)][:10]
    files = {name[len(PREFIX) :] for name in names if name.startswith(PREFIX)}
    manifest = _manifest()

    required = {
        "__manifest__.py",
        "__init__.py",
        "static/description/icon.png",
        "static/description/index.html",
    }
    for key in ("data", "demo", "images"):
        required |= set(manifest.get(key, []))
    required |= {
        str(path.relative_to(source_tree)) for path in source_tree.glob("i18n/*.po*")
    }
    assert "i18n/clinic_pbx.pot" in required
    assert required <= files, sorted(required - files)

    for pattern in _asset_paths(manifest.get("assets", {})):
        pattern = pattern.lstrip("/")
        assert pattern.startswith(ADDON + "/"), pattern
        pattern = pattern[len(ADDON) + 1 :]
        regex = _glob_regex(pattern)
        assert any(map(regex.match, files)), f"no file of the wheel is {pattern}"

    # Odoo's Apps screen shows index.html with its images served from
    # static/description/: each must be in the package.
    images = [
        img.get("src")
        for img in lxml.html.fromstring(description or b"<p/>").iter("img")
        if "//" not in img.get("src", "//")
    ]
    assert images, "the Apps page shows no screenshot"
    missing = [s for s in images if f"static/description/{s}" not in files]
    assert not missing, missing
    # The app's menu shows the icon the Apps screen shows.
    icons = {
        element.get("web_icon")
        for name in manifest["data"]
        if name.endswith(".xml")
        for element in lxml.etree.parse(source_tree / name).iterfind(".//*[@web_icon]")
    }
    assert icons == {f"{ADDON},static/description/icon.png"}, icons

    bad = _local_state(files) + [
        f for f in files if f in ("pyproject.toml", "PKG-INFO")
    ]
    assert not bad, bad


def _connect(dbname):
    options = odoo.tools.config
    return psycopg2.connect(
        host=options["db_host"] or None,
        port=options["db_port"] or None,
        user=options["db_user"] or None,
        password=options["db_password"] or None,
        dbname=dbname,
    )


def _drop_database():
    cn = _connect("postgres")
    cn.autocommit = True
    with cn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    cn.close()
    shutil.rmtree(
        os.path.join(odoo.tools.config["data_dir"], "filestore", DB),
        ignore_errors=True,
    )


def _core_addons_path():
    package = os.path.dirname(odoo.__file__)
    paths = [os.path.join(package, "addons"), os.path.join(package, "..", "addons")]
    return ",".join(
        os.path.abspath(p) for p in paths if os.path.isdir(os.path.join(p, "web"))
    )


@pytest.fixture(scope="module")
def venv(workdir):
    """A new virtualenv next to the Odoo of this suite.

    It sees the system's packages (where an installed Odoo is importable) and,
    through a .pth file, those of this interpreter: the Odoo found by
    scripts/clinic.sh with its requirements, and requirements.txt. So it is a
    server's Python with a source Odoo and the wheel's dependencies already
    there, and nothing has to be downloaded.
    """
    path = workdir / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(path)])
    python = path / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    ).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(purelib, "clinic_pbx_test_parent.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(ours))
    )
    return python


def test_wheel_installs_next_to_odoo_and_the_module_installs_from_it(
    wheel_path, wheel, venv
):
    _names, metadata, _description = wheel
    pip = [str(venv), "-m", "pip", "--disable-pip-version-check"]
    # Odoo from a source tree has no distribution metadata for pip to satisfy
    # the odoo requirement with: install the wheel alone, then its other
    # requirements (already present here, so --no-index must find them).
    _run(pip + ["install", "-q", "--no-deps", str(wheel_path)])
    others = [
        r
        for r in metadata.get_all("Requires-Dist")
        if canonicalize_name(Requirement(r).name) != "odoo"
    ]
    _run(pip + ["install", "-q", "--no-index"] + others)
    found = _run(
        [str(venv), "-c", "import importlib.util as u; "
         f"print(u.find_spec('odoo.addons.{ADDON}').origin)"],
        cwd="/",
    ).stdout.strip()  # fmt: skip
    assert found.startswith(str(venv.parent.parent)), found

    conf = os.environ.get("CLINIC_PBX_CONF") or odoo.tools.config.rcfile
    launcher = os.path.join(os.path.dirname(conf), "odoo-bin")
    core = _core_addons_path()
    assert str(ROOT) not in core and ADDON not in core
    _drop_database()
    try:
        result = _run(
            [str(venv), launcher, "-c", conf, "-d", DB, f"--addons-path={core}",
             "-i", ADDON, "--without-demo=all", "--stop-after-init", "--no-http",
             "--log-level=warn"],
            timeout=900,
            cwd="/",
        )  # fmt: skip
        errors = [
            line
            for line in result.stderr.splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]
        assert not errors, "\n".join(errors[:20])
        cn = _connect(DB)
        with cn.cursor() as cr:
            cr.execute("SELECT state FROM ir_module_module WHERE name = %s", [ADDON])
            assert cr.fetchall() == [("installed",)]
            cr.execute("SELECT to_regclass('pbx_call') IS NOT NULL")
            assert cr.fetchall() == [(True,)]
        cn.close()
    finally:
        _drop_database()
