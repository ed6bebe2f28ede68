"""Build hook: GraphiQL's browser files and the seat-map page, from npm packages, into the
Python package.

The versions are pinned in package.json / package-lock.json; `npm ci` installs them when they are
not in node_modules yet. GraphiQL's files are copied to schema/static/graphiql; the page's
TypeScript (web/) is type-checked with tsc and bundled with esbuild into rest/static/app. Both
folders are ignored by git and ship in the wheel, so that an installed app serves them with no CDN
and no network.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# file name served by the app -> path inside node_modules
ASSETS = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "js.cookie.min.js": "js-cookie/dist/js.cookie.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
}
TARGET = Path("schema") / "static" / "graphiql"

# what building the page needs from node_modules (devDependencies)
ESBUILD = ".bin/esbuild"
TSC = ".bin/tsc"
PAGE_TOOLS = (ESBUILD, TSC, "graphql-ws/package.json")
PAGE_SOURCES = Path("web")
PAGE_ENTRY = PAGE_SOURCES / "src" / "main.ts"
PAGE_STATIC = ("index.html", "app.css")
"""Copied as they are next to the bundle."""
PAGE_TARGET = Path("rest") / "static" / "app"


class GraphiQLAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "graphiql-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        modules = root / "node_modules"
        needed = [*ASSETS.values(), *PAGE_TOOLS]
        if not all((modules / path).exists() for path in needed):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "GraphiQL's files and the page's build tools are not in node_modules and npm "
                    "is not installed: install Node.js/npm (or run `npm ci`) before building."
                )
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root, check=True
            )
        target = root / TARGET
        target.mkdir(parents=True, exist_ok=True)
        for name, source in ASSETS.items():
            shutil.copyfile(modules / source, target / name)
        build_data["artifacts"].append(f"/{TARGET.as_posix()}/")
        self._build_page(root, modules)
        build_data["artifacts"].append(f"/{PAGE_TARGET.as_posix()}/")

    def _build_page(self, root: Path, modules: Path) -> None:
        """Type-check web/ (esbuild only strips types), then bundle it into one script."""
        subprocess.run(
            [str(modules / TSC), "--noEmit", "-p", str(PAGE_SOURCES / "tsconfig.json")],
            cwd=root,
            check=True,
        )
        target = root / PAGE_TARGET
        # a file left from an older build would be served as if it were part of this one
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        subprocess.run(
            [
                str(modules / ESBUILD),
                str(PAGE_ENTRY),
                "--bundle",
                "--minify",
                "--sourcemap",
                "--format=esm",
                "--target=es2020",
                "--log-level=warning",
                f"--outfile={(PAGE_TARGET / 'app.js').as_posix()}",
            ],
            cwd=root,
            check=True,
        )
        for name in PAGE_STATIC:
            shutil.copyfile(root / PAGE_SOURCES / name, target / name)
