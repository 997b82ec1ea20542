"""Signing in to the portal from a test: the sign-in form's CSRF token, then its POST."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient


def form_token(page: httpx.Response) -> str:
    """The CSRF token a page's form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(browser: TestClient, username: str, password: str, next: str = "/") -> httpx.Response:
    """Post the sign-in form as a browser would (its token from the form)."""
    token = form_token(browser.get("/login"))
    data = {"username": username, "password": password, "csrf_token": token, "next": next}
    return browser.post("/login", data=data)


def signed_in(app: FastAPI, username: str, password: str) -> Iterator[TestClient]:
    """A browser (HTTPS, redirects not followed) signed in as ``username``."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        assert sign_in(http, username, password).status_code == 303
        yield http
