"""The package as a wheel, installed where the source tree cannot be seen, serves every page.

The tests run from the source tree, so a template or data file left out of the package would
never be missed there: this builds the wheel, installs it into a fresh virtualenv (its
dependencies borrowed from the test environment, so nothing is downloaded), runs `vnh init-db`
and `vnh demo-data` with the installed command, serves it, and signs in as every role.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
# Each role's own start page must answer 200 from the installed copy.
HOME_OF = {"operator": "/console", "supervisor": "/supervisor", "bureau": "/bureau/",
           "admin": "/console/board", "provider": "/portal/"}
ROUTES_SCRIPT = """
import json, dispatcher
from dispatcher import create_app
app = create_app({"DATABASE_URL": "sqlite://"})
rules = [(r.rule, sorted(r._converters)) for r in app.url_map.iter_rules() if "GET" in r.methods]
print(json.dumps({"package": dispatcher.__file__, "rules": rules}))
"""


def _run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the files git knows, so no build/ or egg-info left in the tree can add
    # files the package itself would not carry.
    source = tmp / "source"
    for path in _run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout.split():
        if (ROOT / path).is_file():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, source / path)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist",
         source, cwd=source)
    wheel = next((tmp / "dist").glob("vnh-*.whl"))
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.strip())
    # The dependencies come from the test environment; vnh itself only from the wheel.
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
         "-q", wheel)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VNH_", "TWILIO_"))}
    env.update(VNH_DATABASE_URL=f"sqlite:///{tmp / 'vnh.sqlite'}", VNH_TELEPHONY="local",
               VNH_SECRET_KEY="wheel-test", PYTHONPATH="")
    work = tmp / "elsewhere"
    work.mkdir()
    return venv, env, work


def test_the_wheel_carries_every_file_under_the_packages(installed):
    venv, _env, _work = installed
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.strip())
    shipped = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    tracked = _run("git", "ls-files", "dispatcher", "providers", "billing", "telephony", cwd=ROOT).stdout.split()
    missing = [path for path in tracked if path not in shipped]
    assert not missing


def test_the_installed_command_serves_every_page_of_every_role(installed):
    venv, env, work = installed
    vnh = venv / "bin" / "vnh"
    routes = json.loads(_run(venv / "bin" / "python", "-c", ROUTES_SCRIPT, cwd=work, env=env).stdout)
    assert routes["package"].startswith(str(venv))
    _run(vnh, "init-db", cwd=work, env=env)
    demo = _run(vnh, "demo-data", "--elders", "20", "--providers", "3", cwd=work, env=env).stdout
    accounts = dict(re.findall(r"staff account (\w+) \(\w+\) password (\S+)", demo))
    assert set(accounts) == (set(HOME_OF) - {"provider"}) | {"provider1"}

    port = free_port()
    server = subprocess.Popen([str(vnh), "serve", "--port", str(port), "--workers", "1", "--no-scheduler"],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, process=server)
        pages = [_example(rule, converters) for rule, converters in routes["rules"]]
        for username, password in accounts.items():
            role = "provider" if username == "provider1" else username
            opener = _signed_in(base, username, password)
            statuses = {page: _status(opener, base + page) for page in pages}
            assert not {page: s for page, s in statuses.items() if s >= 500}, role
            assert statuses[HOME_OF[role]] == 200, role
    finally:
        server.terminate()
        server.wait(timeout=20)


def _example(rule: str, converters: list[str]) -> str:
    for name in converters:
        rule = re.sub(rf"<(?:[^:<>]+:)?{name}>", "1", rule)
    return rule


def _signed_in(base: str, username: str, password: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = base + "/login"
    form = opener.open(login, timeout=10).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password}).encode()
    opener.open(login, data=data, timeout=10)
    return opener


def _status(opener, url: str) -> int:
    try:
        return opener.open(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code
