"""HTML pages from Jinja2 templates shipped as package data.

Every package that renders a page (the product card, the reports index, the access matrix) keeps
its templates in a ``templates/`` folder next to its modules; ``render_template`` loads them from
there, so they work from the source tree and from an installed wheel alike.

The environment escapes every value by default (autoescape), so a template never needs
``html.escape``: text that is already HTML must be marked as such on purpose, with
``markupsafe.Markup`` in the caller or ``|safe`` in the template. A variable the template uses
but the caller did not pass is an error (``StrictUndefined``), not an empty string.
"""

from __future__ import annotations

import functools

import jinja2


def render_template(package: str, name: str, /, **context: object) -> str:
    """Render ``templates/<name>`` of ``package`` with ``context``.

    ``package`` and ``name`` are positional-only so that a template may use variables called
    ``package`` or ``name``.

    Args:
        package: The importable package that holds the ``templates/`` folder, e.g. ``"quality"``.
        name: The template's file name, e.g. ``"report_index.html.j2"``.
        **context: The template's variables; strings are HTML-escaped unless they are ``Markup``.

    Returns:
        The rendered page.

    Raises:
        jinja2.TemplateNotFound: ``package`` has no such template.
        jinja2.UndefinedError: The template uses a variable that is not in ``context``.
    """
    return _environment(package).get_template(name).render(**context)


@functools.cache
def _environment(package: str) -> jinja2.Environment:
    """One environment per package: it caches the compiled templates across calls."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        # Only HTML templates live in these folders, so escape whatever the name's suffix.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # Block tags on lines of their own leave no blank lines or indentation in the page.
        trim_blocks=True,
        lstrip_blocks=True,
    )
