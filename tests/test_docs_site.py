"""The docs site in a real browser: `tools/docs.py` builds it (as `make docs` where quarto is missing) once per
session into _build/test-site/, a thread serves it over http, and headless Chromium (Debian's `chromium` and
`chromium-driver`, installed with apt-get when missing; driven by selenium through that chromedriver, so nothing
is downloaded at run time) loads the front page and every page.

Checks: no console error on any page, no broken internal link or #anchor, the MAE page shows `forward_encoder`'s
documentation and a saved figure, the tour shows its reconstruction and verdict, searching "mask ratio" finds the
masking page. Screenshots of the front page, the tour and the MAE page go to _build/test-site/screenshots/.
A small throwaway site (test_checks_on_a_throwaway_site) and planted faults (test_checks_catch_faults) show
that the checks see what they claim to. Without a browser: CI fails loudly; elsewhere the tests skip, saying why.
"""
import functools, json, os, shutil, subprocess, sys, threading, time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import docs  # noqa: E402  (tools/docs.py)

OUT = ROOT / "_build" / "test-site"
FLAGS = ("--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
         "--disable-sync --no-first-run --window-size=1280,900").split()
BROWSERS, DRIVERS = ("chromium", "chromium-browser", "google-chrome"), ("chromedriver",)


def _unavailable(why):
    if os.environ.get("CI", "").lower() in ("1", "true"): pytest.fail(f"CI: no browser for the docs test: {why}")
    pytest.skip(why)


def _which(names, env=None):
    if env and os.environ.get(env) and Path(os.environ[env], names[0]).exists():
        return str(Path(os.environ[env], names[0]))
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def _binaries():
    "(chromium, chromedriver), installing Debian's packages with apt-get when they are missing."
    browser, driver = _which(BROWSERS), _which(DRIVERS, env="CHROMEWEBDRIVER")
    if browser and driver: return browser, driver
    if not shutil.which("apt-get"): _unavailable("chromium/chromedriver missing and no apt-get to install them")
    print("installing chromium and chromium-driver with apt-get", flush=True)
    r = subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       "chromium chromium-driver", shell=True, capture_output=True, text=True)
    browser, driver = _which(BROWSERS), _which(DRIVERS)
    if not (browser and driver): _unavailable(f"apt-get could not install chromium: {(r.stdout + r.stderr)[-2000:]}")
    return browser, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e: _unavailable(f"selenium is not installed ({e}); run make setup")
    chromium, chromedriver = _binaries()
    o = webdriver.ChromeOptions(); o.binary_location = chromium
    for a in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]: o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=o)
    yield d
    d.quit()


def serve(site):
    "Serve folder `site` over http from a thread; return (base url, server)."
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}/", srv


def visit(d, url):
    "Load `url`; return its console errors (the browser log's SEVERE entries, failed loads included)."
    d.get_log("browser")  # drop what earlier pages left
    d.get(url)
    for _ in range(100):
        if d.execute_script("return document.readyState") == "complete": break
        time.sleep(0.05)
    time.sleep(0.1)  # scripts that run on load
    return [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]


def figures(d):
    "How many images from notebook outputs the current page shows, loaded (naturalWidth > 0)."
    return d.execute_script(
        "return [...document.querySelectorAll('.jp-OutputArea-output img, .cell-output img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length")


def search(d, base, query):
    "The result links material's search lists for `query`, typed in from the front page (`?q=` opens search)."
    from urllib.parse import quote_plus
    from selenium.webdriver.common.by import By
    visit(d, base + "index.html?q=" + quote_plus(query))
    for _ in range(50):  # the search worker loads the index asynchronously
        links = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")]
        if links: return links
        time.sleep(0.2)
    return []


# ---- the project's site ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site():
    "The site, built once per session as `make docs` builds it without quarto, and served."
    t0 = time.time()
    r = subprocess.run([sys.executable, "tools/docs.py", "--fallback", "--site", str(OUT / "site")], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, f"the docs build failed:\n{(r.stdout + r.stderr)[-6000:]}"
    print(f"docs built in {time.time() - t0:.0f}s")
    base, srv = serve(OUT / "site")
    yield {"dir": OUT / "site", "base": base, "pages": docs.page_names(docs.PROC)}
    srv.shutdown()


def test_sidebar_lists_every_notebook():
    assert docs.sidebar_problems() == [], "fix nbs/sidebar.yml"


def test_proc_nbs_installs_nothing_without_quarto(monkeypatch):
    "nbdev's entry point would run `sudo dpkg -i` and `pip install -e` when quarto is missing; ours must not."
    import nbdev.doclinks, nbdev.quarto as q
    def install(*a, **k): raise AssertionError("nbdev tried to install quarto and the project")
    def nothing(*a, **k): pass
    install.__wrapped__, nothing.__wrapped__ = install, nothing  # nbdev calls its commands' __wrapped__
    monkeypatch.setattr(q, "install", install); monkeypatch.setattr(q, "install_quarto", install)
    monkeypatch.setattr(q, "system", install)
    monkeypatch.setattr(q.shutil, "which", lambda name, *a, **k: None)  # no quarto on PATH
    ran = []
    for name in ("refresh_quarto_yml", "nbdev_sidebar"): monkeypatch.setattr(q, name, nothing)
    monkeypatch.setattr(nbdev.doclinks, "_build_modidx", lambda *a, **k: None)
    monkeypatch.setattr(q, "proc_nbs", lambda *a, **k: ran.append(1) or docs.PROC)
    monkeypatch.setattr(q, "_ensure_quarto", q._ensure_quarto)  # undo docs.proc_nbs's switch after the test
    docs.proc_nbs()
    assert ran == [1]


def test_no_broken_internal_links(site):
    warn = []
    assert docs.check_site(site["dir"], warn=warn) == []
    for w in warn: print(f"nbdev's link has no anchor on its page: {w}")


def test_every_api_entry_once(site):
    assert docs.api_twice(site["dir"]) == [], "drop the explicit show_doc of these @patch methods"


def test_every_page_loads_without_console_errors(site, browser):
    t0, pages = time.time(), sorted(p.relative_to(site["dir"]).as_posix() for p in site["dir"].rglob("*.html"))
    pages.remove("index.html"); pages.insert(0, "index.html")
    errors = {p: e for p in pages if (e := visit(browser, site["base"] + p))}
    print(f"{len(pages)} pages loaded in {time.time() - t0:.0f}s")
    assert not errors, errors


def _shot(d, name):
    p = OUT / "screenshots" / f"{name}.png"; p.parent.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(p)); print(f"screenshot: {p}")


def test_mae_page_shows_forward_encoder_and_a_figure(site, browser):
    from selenium.webdriver.common.by import By
    url = site["base"] + site["pages"]["11_mae.ipynb"]
    errors = visit(browser, url + "#maskedautoencodervit.forward_encoder")
    _shot(browser, "mae")
    assert errors == []
    h = browser.find_elements(By.ID, "maskedautoencodervit.forward_encoder")
    assert h and h[0].is_displayed(), "no show_doc entry for MaskedAutoencoderViT.forward_encoder"
    assert figures(browser) >= 1, "no saved figure on the MAE page"


def test_tour_shows_reconstruction_and_verdict(site, browser):
    from selenium.webdriver.common.by import By
    assert "00_tour.ipynb" in site["pages"], "no tour page (nbs/00_tour.ipynb)"
    errors = visit(browser, site["base"] + site["pages"]["00_tour.ipynb"])
    _shot(browser, "tour")
    assert errors == []
    assert figures(browser) >= 1, "the tour shows no figure (its reconstruction)"
    text = browser.find_element(By.TAG_NAME, "body").text.lower()
    assert "reconstruct" in text and "verdict" in text, "the tour names no reconstruction or verdict"


def test_front_page_leads_to_the_tour(site, browser):
    from selenium.webdriver.common.by import By
    errors = visit(browser, site["base"] + "index.html")
    _shot(browser, "front")
    assert errors == []
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "article a")]
    assert any(site["pages"].get("00_tour.ipynb", "?") in (l or "") for l in links), "no link to the tour"


def test_search_finds_the_masking_page(site, browser):
    links = search(browser, site["base"], "mask ratio")
    assert any(site["pages"]["11_mae.ipynb"] in l for l in links), links


# ---- the checks themselves ---------------------------------------------------------------------------------
def _nb(cells):
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
            "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def _md(s): return {"cell_type": "markdown", "metadata": {}, "source": s}


def _code(s, outputs): return {"cell_type": "code", "metadata": {}, "source": s, "outputs": outputs,
                               "execution_count": None}


# a 4×4 PNG
_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEklEQVR4nGP4z8CAB+GTG8HSALfKY52fTcuYAAAAAElFTkSuQmCC")


def test_checks_on_a_throwaway_site(tmp_path, browser):
    "Two processed notebooks through the same staging and mkdocs build: figure, link, anchor and search work."
    proc = tmp_path / "proc"; (proc / "sub").mkdir(parents=True)
    fm = {"cell_type": "raw", "metadata": {}, "source": "---\ntitle: Alpha page\noutput-file: alpha.html\n---\n"}
    (proc / "a.ipynb").write_text(json.dumps(_nb([fm, _md("## Zebra crossing\n\nSee [b](sub/b.ipynb#the-end) and "
        f"[`bee`]({docs.DOC_URL}sub/b.html#bee)."),
        _code("#| echo: false\nshow()", [{"output_type": "display_data", "metadata": {},
              "data": {"image/png": _PNG, "text/plain": "<Figure>"}}])])))
    (proc / "sub" / "b.ipynb").write_text(json.dumps(_nb([_md("# Bee\n\n## The end\n\nBack to [a](../a.ipynb).")])))
    (proc / "index.ipynb").write_text(json.dumps(_nb([_md("# Home\n\nStart at [alpha](a.ipynb).")])))
    (proc / "sidebar.yml").write_text("website:\n  sidebar:\n    contents:\n      - section: One\n        contents:\n"
                                      "          - index.ipynb\n          - a.ipynb\n          - sub/b.ipynb\n")
    out = docs.build_fallback(tmp_path / "site", proc, tmp_path / "src")
    assert docs.check_site(out) == [] and docs.api_twice(out) == []
    (out / "twice.html").write_text("<h3 id='f'>f<a class='anchor-link'>¶</a></h3><h3 id='f-1'>f</h3><h2>A b</h2>")
    assert docs.api_twice(out) == ["twice.html: f"]
    base, srv = serve(out)
    try:
        assert visit(browser, base + "alpha.html") == [] and figures(browser) == 1
        assert "show()" not in browser.page_source, "an `#| echo: false` cell showed its code"
        assert 'href="sub/b.html#the-end"' in browser.page_source
        assert '<a class="nbdev-doclink" href="sub/b.html#bee"><code>bee</code></a>' in browser.page_source
        assert any("alpha.html" in l for l in search(browser, base, "zebra"))
    finally: srv.shutdown()


def test_checks_catch_faults(tmp_path, browser):
    "A page with a console error, a broken link and a missing figure: each is reported."
    (tmp_path / "ok.html").write_text('<h2 id="here">x</h2>')
    (tmp_path / "bad.html").write_text(
        '<script>console.error("boom")</script><a href="ok.html#nowhere">a</a><a href="gone.html">b</a>'
        '<div class="jp-OutputArea-output"><img src="missing.png"></div>'
        '<a class="nbdev-doclink" href="ok.html#no_show_doc">m</a><a class="nbdev-doclink" href="nopage.html">p</a>')
    warn = []
    broken = docs.check_site(tmp_path, warn=warn)
    assert any("ok.html#nowhere" in b for b in broken) and any("gone.html" in b for b in broken), broken
    assert any("nopage.html" in b for b in broken) and not any("no_show_doc" in b for b in broken), broken
    assert warn == ["bad.html: ok.html#no_show_doc (no #no_show_doc on ok.html)"], warn  # nbdev's link: a warning
    base, srv = serve(tmp_path)
    try:
        errors = visit(browser, base + "bad.html")
        assert any("boom" in e for e in errors) and any("missing.png" in e for e in errors), errors
        assert figures(browser) == 0
    finally: srv.shutdown()
