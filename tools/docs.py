"""`make docs`: the docs site, from one reading order (nbs/sidebar.yml), never installing anything.

1. `nbdev_proc_nbs` processes the notebooks into _proc/ (nbdev runs the import and `show_doc` cells). nbdev's own
   entry point first calls `_ensure_quarto`, which, without quarto, runs `sudo dpkg -i` and then `pip install -e`
   with whichever pip is first on PATH; here that step is switched off, so a missing quarto installs nothing.
2. Where `quarto` exists: `nbdev_docs`, the real nbdev site, into _docs/.
3. Where it does not (our machines, CI): mkdocs-material + mkdocs-jupyter render _proc/ into _docs/ (mkdocs.yml
   says why these). A small staging step makes the processed notebooks read as quarto reads them: the front matter
   becomes the title, `#|` directives are dropped (`echo: false` hides the code), quarto's `{target=...}` link
   attributes go, and links to notebooks (`11_mae.ipynb#random_masking`) or to the published site point at the
   pages built here. Pages keep quarto's names (`mae.html`), headings quarto's ids (hook `on_page_content`).
4. Every internal link and #anchor of the built site must resolve (`check_site`), else the build fails.

    python tools/docs.py                  # as `make docs`
    python tools/docs.py --fallback       # the mkdocs site even where quarto exists
"""
import argparse, html, json, os, re, shutil, sys, time
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS, PROC = ROOT / "nbs", ROOT / "_proc"
SITE = ROOT / "_docs"                # where both builds put the site (settings.ini doc_path)
WORK = ROOT / "_build" / "docs-src"  # the staged notebooks the fallback renders
DOC_URL = "https://cxrvit.github.io/cxrvit/"  # settings.ini doc_host + doc_baseurl: nbdev's links point here


# ---- the reading order -------------------------------------------------------------------------------------
def sidebar(path=NBS / "sidebar.yml"):
    "[(section, notebook path relative to nbs/)] in the order of nbs/sidebar.yml."
    def walk(items, section):
        for it in items:
            if isinstance(it, str): yield section, it
            elif "section" in it: yield from walk(it.get("contents", []), it["section"])
            else: yield section, it.get("href", "")
    return list(walk(yaml.safe_load(Path(path).read_text())["website"]["sidebar"]["contents"], None))


def site_notebooks(nbs=NBS):
    "Every notebook the site must show: nbs/**/*.ipynb except names starting with `_` or `.`."
    return sorted(p.relative_to(nbs).as_posix() for p in Path(nbs).rglob("*.ipynb")
                  if not any(s.startswith(("_", ".")) for s in p.relative_to(nbs).parts))


def sidebar_problems(nbs=NBS):
    "What is wrong with nbs/sidebar.yml: notebooks it misses, entries that are no notebook here, repeats."
    listed = [p for _, p in sidebar(Path(nbs) / "sidebar.yml")]
    have = set(site_notebooks(nbs))
    out = [f"not in nbs/sidebar.yml: {p}" for p in sorted(have - set(listed))]
    out += [f"nbs/sidebar.yml lists {p}, which is not a notebook under nbs/" for p in listed if p not in have]
    out += [f"nbs/sidebar.yml lists {p} twice" for p in sorted({p for p in listed if listed.count(p) > 1})]
    return out


# ---- 1. nbdev_proc_nbs, installing nothing -----------------------------------------------------------------
def proc_nbs():
    "nbdev_proc_nbs into _proc/, with nbdev's quarto installer (sudo, then pip install -e) switched off."
    import nbdev.quarto as q
    q._ensure_quarto = lambda: None
    t0 = time.time()
    q.nbdev_proc_nbs.__wrapped__()
    print(f"docs: nbdev_proc_nbs in {time.time() - t0:.0f}s", flush=True)
    return PROC


# ---- 3. staging the processed notebooks for mkdocs-jupyter -------------------------------------------------
def front_matter(nb):
    "The YAML front matter nbdev put in the notebook's first raw cell ({} if none)."
    c = nb["cells"][0] if nb["cells"] else {}
    m = re.fullmatch(r"\s*---\n(.*?)\n---\s*", "".join(c.get("source", "")), re.S) if c.get("cell_type") == "raw" else None
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def page_names(proc=PROC, rels=None):
    "{notebook relative to nbs/: its page relative to the site}, named as quarto names them (`output-file`)."
    out = {}
    for rel in rels if rels is not None else site_notebooks(proc):
        p = Path(proc) / rel
        if not p.exists(): continue
        fm = front_matter(json.loads(p.read_text(encoding="utf-8")))
        out[rel] = str(PurePosixPath(rel).parent / fm.get("output-file", PurePosixPath(rel).stem + ".html"))
        out[rel] = out[rel].removeprefix("./")
    return out


_LINK = re.compile(r"""(\]\(|href=["'])([^)"'\s]+)""")
_DOCLINK = re.compile(r"\[`([^`\]]+)`\]\(" + re.escape(DOC_URL) + r"([^)\s]*)\)")


def fix_markdown(text, page, pages):
    "Quarto-only markup out; links to notebooks and to the published site pointed at the pages built here."
    text = re.sub(r"(\]\([^)\s]*\))\{[^{}\n]*\}", r"\1", text)  # [source](url){target="_blank" ...}
    # nbdev's own links to the API ([`name`](DOC_URL...)) are marked, so that check_site can tell them apart
    text = _DOCLINK.sub(lambda m: f'<a class="nbdev-doclink" href="{DOC_URL}{m.group(2)}">'
                                  f"<code>{html.escape(m.group(1))}</code></a>", text)
    here = PurePosixPath(page).parent
    src_dir = PurePosixPath(next((r for r, p in pages.items() if p == page), page)).parent

    def link(m):
        url = m.group(2)
        if url.startswith(DOC_URL):
            path, _, frag = url[len(DOC_URL):].partition("#")
            target = path or "index.html"
        else:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path.endswith(".ipynb"): return m.group(0)
            rel = os.path.normpath(str(src_dir / unquote(parts.path))).replace(os.sep, "/")
            if rel not in pages: return m.group(0)  # left as written: check_site reports it
            target, frag = pages[rel], parts.fragment
        new = os.path.relpath(target, here).replace(os.sep, "/") + (f"#{frag}" if frag else "")
        return m.group(1) + new
    return _LINK.sub(link, text)


_DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")


def stage_cell(c, page, pages):
    "One processed cell as mkdocs-jupyter should render it (None: drop it)."
    src = "".join(c.get("source", ""))
    if c["cell_type"] == "markdown":
        return {**c, "source": fix_markdown(src, page, pages)}
    if c["cell_type"] != "code": return c
    lines, tags = src.splitlines(), set(c.get("metadata", {}).get("tags", []))
    while lines and _DIRECTIVE.match(lines[0]):
        k, v = _DIRECTIVE.match(lines.pop(0)).groups()
        if v.lower() == "false" and k in ("echo", "output", "include"):
            tags.add({"echo": "remove_input", "output": "remove_output", "include": "remove_cell"}[k])
    outs = []
    for o in c.get("outputs", []):
        data = dict(o.get("data", {}))
        if "text/markdown" in data:
            data["text/markdown"] = fix_markdown("".join(data["text/markdown"]), page, pages)
        outs.append({**o, "data": data} if "data" in o else o)
    return {**c, "source": "\n".join(lines), "outputs": outs, "metadata": {**c.get("metadata", {}), "tags": sorted(tags)}}


def stage(proc=PROC, work=WORK):
    "Write the processed notebooks of the sidebar to `work`, named as their quarto pages; return the mkdocs nav."
    listed = sidebar(Path(proc) / "sidebar.yml" if (Path(proc) / "sidebar.yml").exists() else NBS / "sidebar.yml")
    pages = page_names(proc, [r for _, r in listed])
    shutil.rmtree(work, ignore_errors=True); Path(work).mkdir(parents=True)
    nav, titles = {}, {}
    for section, rel in listed:
        if rel not in pages:
            print(f"docs: {rel} is in the sidebar but not in {proc}; left out", file=sys.stderr); continue
        nb = json.loads((Path(proc) / rel).read_text(encoding="utf-8"))
        fm, page = front_matter(nb), pages[rel]
        cells = [stage_cell(c, page, pages) for c in (nb["cells"][1:] if fm else nb["cells"])]
        if fm.get("title"):
            head = f"# {fm['title']}\n\n" + (f"> {fm['description']}" if fm.get("description") else "")
            cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": head})
        nb["cells"] = cells
        dst = Path(work) / PurePosixPath(page).with_suffix(".ipynb")
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        titles[rel] = fm.get("title") or PurePosixPath(rel).stem
        nav.setdefault(section or "Pages", []).append({titles[rel]: str(PurePosixPath(page).with_suffix(".ipynb"))})
    shutil.copy(NBS / "styles.css", Path(work) / "styles.css")
    return [{s: items} for s, items in nav.items()]


def build_fallback(site=SITE, proc=PROC, work=WORK):
    "Render the processed notebooks with mkdocs-material into `site`."
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    t0 = time.time()
    nav = stage(proc, work)
    cfg = load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(work), site_dir=str(site), nav=nav)
    build(cfg)
    print(f"docs: mkdocs built {site} in {time.time() - t0:.0f}s", flush=True)
    return Path(site)


# ---- mkdocs hook (mkdocs.yml `hooks:`): heading ids as quarto (pandoc) writes them -----------------------------
def pandoc_id(text):
    "Pandoc's automatic identifier: lower case, only letters, digits, `_-.`, spaces as `-`, from the first letter."
    s = re.sub(r"[^\w\s.\-]", "", text.lower())
    s = re.sub(r"^[^a-z]+", "", re.sub(r"\s", "-", s.strip()))
    return s or "section"


def on_config(config):
    """mkdocs-jupyter converts each notebook twice, the second time (to markdown) only for its table of contents;
    on_page_content builds that from the HTML, so the second conversion is skipped (mkdocs-jupyter 0.26.3)."""
    import mkdocs_jupyter.plugin as mj
    mj._get_nb_toc_tokens = lambda fpath, toc_depth: ([], None)  # (toc tokens, title): the nav gives titles
    return config


_HEAD = re.compile(r"<h([1-6])([^>]*?)\sid=\"([^\"]*)\"([^>]*)>(.*?)</h\1>", re.S)


def on_page_content(content, page, config, files):
    "Give headings quarto's ids, point the page's #links and its table of contents at them."
    from mkdocs.structure.toc import get_toc
    seen, renamed, tokens = {}, {}, []

    def head(m):
        level, pre, old, post, inner = m.groups()
        text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<a class=\"anchor-link\".*?</a>", "", inner)))
        new = pandoc_id(text)
        n = seen.get(new, 0); seen[new] = n + 1
        new = new if n == 0 else f"{new}-{n}"
        renamed[old] = new
        tokens.append({"level": int(level), "id": new, "name": html.escape(text.strip()), "children": []})
        return f"<h{level}{pre} id=\"{new}\"{post}>{inner}</h{level}>"
    content = _HEAD.sub(head, content)
    content = re.sub(r"href=\"#([^\"]*)\"", lambda m: f"href=\"#{renamed.get(m.group(1), m.group(1))}\"", content)
    page.toc = get_toc(_nest(tokens))
    return content


def _nest(tokens):
    root, stack = [], []
    for t in tokens:
        while stack and stack[-1]["level"] >= t["level"]: stack.pop()
        (stack[-1]["children"] if stack else root).append(t)
        stack.append(t)
    return root


# ---- 4. links of the built site ----------------------------------------------------------------------------
class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids, self.refs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("id", "name"):
            if a.get(k) and (k == "id" or tag == "a"): self.ids.add(a[k])
        for k in ("href", "src"):
            if a.get(k) is not None and tag in ("a", "img", "link", "script", "iframe", "source"):
                self.refs.append((a[k], "nbdev-doclink" in (a.get("class") or "").split()))


def _parse(p, cache):
    if p not in cache:
        r = _Refs(); r.feed(p.read_text(encoding="utf-8", errors="replace")); cache[p] = r
    return cache[p]


def check_site(site=SITE, doc_url=DOC_URL, warn=None):
    """Every broken internal link of the built site, as 'page: link (why)'. One exception: an anchor missing
    behind nbdev's automatic link to a symbol (a method without `show_doc`, a private `_name`, whose anchor quarto
    drops too) lands on the right page; it goes to `warn` (a list), not to the result."""
    site, cache, bad = Path(site).resolve(), {}, []
    for page in sorted(site.rglob("*.html")):
        if page.name == "404.html": continue  # served at any depth, so it links from the site root
        for ref, doclink in _parse(page, cache).refs:
            why = _broken(page, ref, site, cache, doc_url)
            if not why: continue
            if doclink and why.startswith("no #"):
                if warn is not None: warn.append(f"{page.relative_to(site)}: {ref} ({why})")
            else: bad.append(f"{page.relative_to(site)}: {ref} ({why})")
    return bad


def _broken(page, ref, site, cache, doc_url):
    if ref.startswith(doc_url): return "points at the published site, not at this build"
    u = urlsplit(ref)
    if u.scheme or u.netloc or ref.startswith(("javascript:", "data:", "mailto:")): return None
    target = page if not u.path else (page.parent / unquote(u.path)).resolve()
    if u.path.endswith("/") or target.is_dir(): target = target / "index.html"
    if site not in (target, *target.parents): return "outside the site"
    if not target.exists(): return "no such file"
    if u.fragment and target.suffix == ".html" and unquote(u.fragment) not in _parse(target, cache).ids:
        return f"no #{u.fragment} on {target.relative_to(site)}"
    return None


def api_twice(site=SITE):
    """API entries shown twice on one page, as 'page: name'. nbdev 2.4.14 adds a show_doc after every `@patch`
    cell on its own (its name check misses `Class.method`), so an explicit `show_doc(Class.method)` for a
    patched method doubles the entry: keep those only for methods written inside their class."""
    out = []
    for page in sorted(Path(site).rglob("*.html")):
        names = [html.unescape(re.sub(r"<[^>]+>|¶", "", m)).strip()
                 for m in re.findall(r"<h[34][^>]*>(.*?)</h[34]>", page.read_text(encoding="utf-8"), re.S)]
        names = [n for n in names if n and " " not in n]  # API names; section titles have spaces
        out += [f"{page.relative_to(site)}: {n}" for n in sorted({n for n in names if names.count(n) > 1})]
    return out


# ---- make docs ------------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fallback", action="store_true", help="build the mkdocs site even where quarto exists")
    ap.add_argument("--site", default=str(SITE), help="where the fallback site goes (default _docs/)")
    a = ap.parse_args()
    os.chdir(ROOT)
    problems = sidebar_problems()
    for p in problems: print(f"docs: {p}", file=sys.stderr)
    if any(p.startswith("not in") for p in problems): sys.exit("docs: every notebook must be in nbs/sidebar.yml")
    proc_nbs()
    if shutil.which("quarto") and not a.fallback:
        from nbdev.quarto import nbdev_docs
        readme = (ROOT / "README.md").read_bytes()
        try: nbdev_docs.__wrapped__()
        finally: (ROOT / "README.md").write_bytes(readme)  # README.md is tools/readme.py's, not quarto's
        site = SITE
    else:
        print("docs: quarto not found; rendering _proc/ with mkdocs-material", flush=True)
        site = build_fallback(Path(a.site))
    soft = []
    bad = check_site(site, warn=soft)
    for w in soft: print(f"docs: nbdev's link has no anchor on its page (add a show_doc?): {w}", file=sys.stderr)
    for b in bad: print(f"broken link: {b}", file=sys.stderr)
    if bad: sys.exit(f"docs: {len(bad)} broken internal links in {site}")
    print(f"docs: {site}/index.html")


if __name__ == "__main__":
    main()
