"""Create the baseline objects of the Nautobot test bed through the Django ORM.

Runs inside the Nautobot venv (``<venv>/bin/python nautobot_baseline.py``) with
NAUTOBOT_CONFIG pointing at the instance settings; never imported by pytest. Reads
``{"admin_password", "admin_token", "readonly_password", "readonly_token"}`` as JSON on
stdin and is idempotent, so it can run again after a re-migrate. These objects are
baked into the base dump because custom fields must exist before a server worker
answers its first GraphQL query.
"""

from __future__ import annotations

import json
import sys
from typing import Dict, List, Tuple

import nautobot

#: Custom fields on dcim.device: key -> (label, type).
CUSTOM_FIELDS: Dict[str, Tuple[str, str]] = {
    "last_backup": ("Last backup", "date"),
    "last_backup_iso": ("Last backup (ISO-8601)", "text"),
    "net": ("Net", "text"),
}

#: What the read-only user may view; tenancy (tenant, tenant group) and racks are left out on purpose.
READONLY_VIEW: List[Tuple[str, str]] = [
    ("dcim", "device"),
    ("dcim", "platform"),
    ("dcim", "manufacturer"),
    ("dcim", "devicetype"),
    ("extras", "role"),
    ("extras", "status"),
    ("dcim", "location"),
    ("dcim", "locationtype"),
    ("ipam", "ipaddress"),
    ("dcim", "interface"),
    ("extras", "tag"),
]


def main() -> int:
    """Create or update users, tokens, the read-only permission and the custom fields."""
    secrets = json.load(sys.stdin)
    nautobot.setup()

    # Imports need a configured Django, so they follow setup().
    from django.contrib.contenttypes.models import ContentType  # pylint: disable=import-outside-toplevel
    from django.db import transaction  # pylint: disable=import-outside-toplevel
    from nautobot.extras.models import CustomField  # pylint: disable=import-outside-toplevel
    from nautobot.users.models import ObjectPermission, Token, User  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        admin, _created = User.objects.get_or_create(username="admin")
        admin.is_superuser = True
        admin.is_staff = True
        admin.email = "admin@example.invalid"
        admin.set_password(secrets["admin_password"])
        admin.save()

        readonly, _created = User.objects.get_or_create(username="readonly")
        readonly.is_superuser = False
        readonly.is_staff = False
        readonly.set_password(secrets["readonly_password"])
        readonly.save()

        for user, key in ((admin, secrets["admin_token"]), (readonly, secrets["readonly_token"])):
            Token.objects.filter(user=user).exclude(key=key).delete()
            Token.objects.update_or_create(
                key=key, defaults={"user": user, "write_enabled": True, "description": "test bed"}
            )

        perm, _created = ObjectPermission.objects.update_or_create(
            name="readonly-inventory-view",
            defaults={"actions": ["view"], "enabled": True, "description": "test bed: inventory, no tenancy/racks"},
        )
        perm.object_types.set([ContentType.objects.get(app_label=app, model=model) for app, model in READONLY_VIEW])
        perm.users.set([readonly])

        device_ct = ContentType.objects.get(app_label="dcim", model="device")
        for key, (label, cf_type) in CUSTOM_FIELDS.items():
            field, _created = CustomField.objects.update_or_create(key=key, defaults={"label": label, "type": cf_type})
            field.content_types.set([device_ct])

    print(json.dumps({"custom_fields": sorted(CUSTOM_FIELDS), "users": ["admin", "readonly"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
