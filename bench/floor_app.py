"""The framework floor: a hello-world route on the same stack (FastAPI under uvicorn)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
