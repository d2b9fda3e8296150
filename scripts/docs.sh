#!/usr/bin/env bash
# Build the collection's HTML documentation into .build/docsite/html with antsibull-docs and Sphinx:
# every plugin and role page, plus the guides of docs/docsite (extra-docs.yml, rst/). Warnings are errors.
# Offline: no intersphinx; the few Ansible docsite labels that plugin pages cite resolve to fixed URLs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.build/docsite
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/.build/collections}

# Plugin docs, role docs from meta/argument_specs.yml and the extra docs, checked before they are rendered.
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
  --disallow-unknown-collection-refs "$root"

rm -rf "$out"
mkdir -p "$out/rst"
chmod 700 "$out" "$out/rst"  # antsibull-docs wants its output directory writable by its owner only
antsibull-docs collection --use-current --squash-hierarchy --cleanup everything --dest-dir "$out/rst" \
  netops.nautobot_backup

cat > "$out/conf.py" <<'PY'
"""Sphinx settings of the netops.nautobot_backup docsite (written by scripts/docs.sh)."""

project = "netops.nautobot_backup"
copyright = "netops.nautobot_backup maintainers"
title = html_short_title = "netops.nautobot_backup"
extensions = ["sphinx_antsibull_ext"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"
html_theme = "sphinx_ansible_theme"
html_theme_options = {"collapse_navigation": False, "display_version": False}
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
html_static_path = ["static"]
html_css_files = ["guides.css"]
default_role = "any"
nitpicky = True

# Labels of the Ansible docsite that generated plugin pages cite (intersphinx would fetch them).
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_LABELS = {
    "action_plugins": ("plugins/action.html", "Action plugins"),
    "callback_plugins": ("plugins/callback.html", "Callback plugins"),
    "common_return_values": ("reference_appendices/common_return_values.html", "Common return values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible configuration settings"),
}


def _ansible_reference(app, env, node, contnode):
    """Resolve a reference to the Ansible docsite (a label above, or an ANSIBLE_* variable) to its URL."""
    from docutils import nodes

    target, kind = node.get("reftarget", ""), node.get("reftype")
    if kind == "ref" and target in ANSIBLE_LABELS:
        page, text = ANSIBLE_LABELS[target]
        contnode = nodes.inline(text, text) if not node.get("refexplicit") else contnode
    elif kind == "envvar" and target.startswith("ANSIBLE_"):
        page = f"reference_appendices/config.html#envvar-{target}"
    else:
        return None
    link = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + page)
    link.append(contnode)
    return link


def setup(app):
    app.connect("missing-reference", _ansible_reference)
PY

# The guides' tables: long code literals may wrap, so that a table fits the page instead of scrolling sideways.
mkdir -p "$out/static"
cat > "$out/static/guides.css" <<'CSS'
.rst-content table.docutils:not(.ansible-option-table) td,
.rst-content table.docutils:not(.ansible-option-table) th { white-space: normal; padding: 8px 10px; }
.rst-content table.docutils:not(.ansible-option-table) td code.literal { white-space: normal; overflow-wrap: anywhere; }
/* The side menu: a long plugin name wraps instead of being cut off. */
.wy-menu-vertical a { overflow-wrap: anywhere; }
CSS

sphinx-build -b html -W --keep-going -q -c "$out" "$out/rst" "$out/html"
echo "docs: $out/html/index.html"
