"""Build hook: copy GraphiQL's browser files from npm packages into the Python package.

The versions are pinned in package.json / package-lock.json; `npm ci` installs them when they are
not in node_modules yet. The copies land in schema/static/graphiql (ignored by git) and ship in
the wheel, so that an installed app serves GraphiQL with no CDN and no network.
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


class GraphiQLAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "graphiql-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        modules = root / "node_modules"
        if not all((modules / source).is_file() for source in ASSETS.values()):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "GraphiQL's files are not in node_modules and npm is not installed: "
                    "install Node.js/npm (or run `npm ci`) before building."
                )
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root, check=True
            )
        target = root / TARGET
        target.mkdir(parents=True, exist_ok=True)
        for name, source in ASSETS.items():
            shutil.copyfile(modules / source, target / name)
        build_data["artifacts"].append(f"/{TARGET.as_posix()}/")
