#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.nautobot_custom_fields (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nautobot_custom_fields
short_description: Create the Nautobot custom fields of dcim.device that the backup status is written into
version_added: 0.1.0
description:
  - Makes sure every field in O(fields) exists in Nautobot as a custom field of C(dcim.device) with the given type,
    so that M(netops.nautobot_backup.nautobot_backup_status) can write into it.
  - A missing field is created (C(POST /api/extras/custom-fields/)) with its label, description and the content type
    C(dcim.device); the choices of a C(select) field are created with it (C(POST /api/extras/custom-field-choices/)).
  - A field that exists for other content types only gets C(dcim.device) added to them. A C(select) field that
    lacks some of the choices gets them added; choices it has beyond those are kept.
  - B(A field is never retyped.) A field that exists with another type fails the task, naming the field, its type
    and the wanted type, before anything is changed. Labels and descriptions of existing fields are left as they are.
  - B(Idempotent.) When every field is already right nothing is sent and the task reports C(changed=false).
  - Runs on the controller through its action plugin; it does not connect to the task's host.
  - The token needs view permission on C(extras.customfield) and C(extras.customfieldchoice), and add and change
    permission on them when something is missing.
extends_documentation_fragment:
  - netops.nautobot_backup.nautobot
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the custom fields and reports in RV(actions) what would be created or changed; sends nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: A second run with the same O(fields) sends no request that changes Nautobot and returns
      C(changed=false).
    support: full
options:
  fields:
    description:
      - The custom fields C(dcim.device) must have.
      - C(playbooks/vars/status_fields.yml) holds the fields of the backup status.
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description: The field's key (what the API and GraphQL use, C(cf_<key>) in filters).
        type: str
        required: true
      label:
        description: The label shown in Nautobot. Defaults to the key with spaces and a capital. Used only when the
          field is created.
        type: str
      type:
        description: The field's Nautobot type.
        type: str
        required: true
        choices: [text, integer, boolean, date, url, select, multi-select, json, markdown]
      choices:
        description: The values of a C(select) or C(multi-select) field (required for those, refused for others).
        type: list
        elements: str
        default: []
      description:
        description: A description shown in Nautobot. Used only when the field is created.
        type: str
        default: ""
notes:
  - The module belongs to the C(netops.nautobot_backup.nautobot) action group, so the connection options can be
    set once with C(module_defaults) and C(group/netops.nautobot_backup.nautobot).
  - C(playbooks/create_status_fields.yml) runs it with the fields of the backup status.
seealso:
  - module: netops.nautobot_backup.nautobot_backup_status
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Create the backup status fields
  netops.nautobot_backup.nautobot_custom_fields:
    url: https://nautobot.example.com
    fields:
      - key: last_backup
        label: Last backup
        type: date
      - key: last_backup_status
        label: Last backup status
        type: select
        choices: [ok, failed]
      - key: config_unsaved
        label: Configuration unsaved
        type: boolean
  run_once: true
  register: status_fields
"""

RETURN = r"""
actions:
  description:
    - What was changed (in check mode, what would be changed), in order; empty when every field was right.
    - C(action) is C(create), C(add_content_type) (with the new C(content_types)) or C(add_choices) (with C(choices)).
  returned: always
  type: list
  elements: dict
  sample: [{"action": "create", "key": "last_backup_status", "choices": ["ok", "failed"]}]
write_requests:
  description: Number of POST and PATCH requests sent to Nautobot (0 in check mode and when nothing was missing).
  returned: always
  type: int
fields:
  description: The keys of the fields checked.
  returned: always
  type: list
  elements: str
msg:
  description: A one-line summary.
  returned: always
  type: str
"""

# This module's own options (literals only); the action plugin (plugins/action/nautobot_custom_fields.py) adds those
# of the netops.nautobot_backup.nautobot doc fragment.
ARGUMENT_SPEC = {
    "fields": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "key": {"type": "str", "required": True, "no_log": False},
            "label": {"type": "str"},
            "type": {
                "type": "str",
                "required": True,
                "choices": ["text", "integer", "boolean", "date", "url", "select", "multi-select", "json", "markdown"],
            },
            "choices": {"type": "list", "elements": "str", "default": []},
            "description": {"type": "str", "default": ""},
        },
    },
}
