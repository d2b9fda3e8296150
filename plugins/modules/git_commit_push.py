#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.git_commit_push (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: git_commit_push
short_description: Prepare the backup Git checkout, then commit and push exactly the files a run wrote
version_added: 0.1.0
description:
  - Runs on the controller only (action plugin, no module process); use it once per run, for example with
    C(run_once) set to true.
  - B(mode=prepare), before any file is written. Takes the run lock of O(repo_dir) (see B(One run per checkout)),
    recovers what a killed run left (RV(recovered)), clones O(repo_url) into O(repo_dir), or opens it when it is
    already a checkout of that URL, and brings O(branch) up to date with the remote. When the local branch has no
    unpushed commits it is hard-reset to C(origin/<branch>) (uncommitted edits to tracked files are dropped,
    untracked files are kept). When it holds commits an earlier run could not push, they are replayed whole-file
    onto the remote branch and kept, so the next publish pushes them; for a file the remote changed too, the
    remote's newer file wins (this run reads the device again anyway). This never fails on a conflict, and a
    rebase or merge left half-done by an older version is aborted. A branch the remote does not have is created
    from the remote's default branch, or born empty when the remote has no commit at all.
  - A O(repo_dir) that exists but is not a checkout of O(repo_url) (another remote, a file, a non-empty directory
    that is not a Git checkout, a sub-directory of another checkout) is an error and is never modified or deleted.
  - B(mode=publish), after the files are written. Stages exactly O(files) (and the deletions in O(removed_files)),
    nothing else, makes one commit with O(message), O(author_name) and O(author_email), and pushes it. When nothing
    staged differs from the last commit, no commit is made; commits that an earlier run left unpushed are still
    pushed.
  - B(Concurrent jobs, whole files.) A push rejected because the branch moved (C(fetch first),
    C(non-fast-forward)) or because another push was updating it (C(cannot lock ref), C(failed to update ref)) is
    retried up to O(push_retries) times, each time after a fetch and a replay of the run's commit onto the remote
    branch. Files are never merged line by line; every file the run's commit touched is pushed exactly as this run
    wrote it (the last pusher wins the whole file), every other file keeps the remote's content.
  - B(One run per checkout.) C(prepare) takes a lock file beside the checkout (C(.<name of repo_dir>.lock) in its
    parent directory, mode 0600) naming the run (the C(ansible-playbook) process ID, host and start time), and
    C(publish) releases it at its end, success or failure. Another run on the same O(repo_dir) waits up to
    O(lock_timeout) seconds, then fails with a message naming the run that holds it. A lock whose run no longer
    exists (same host; checked by process ID and process start time) is stale and is taken over.
  - B(Recovery.) While holding the run lock, C(prepare) and C(publish) remove git lock files a killed git left
    (C(.git/index.lock), C(HEAD.lock), C(config.lock), C(packed-refs.lock), C(refs/**/*.lock) and others), and
    C(prepare) removes untracked temporary files of killed writers (C(.<file>.<random>.tmp)); RV(recovered) lists
    them.
  - B(Hooks and config.) Every git command runs with C(core.hooksPath=/dev/null), C(core.fsmonitor=false),
    C(commit.gpgSign=false), C(core.sharedRepository=umask) and C(protocol.ext.allow=never), so no hook, fsmonitor
    or signing program runs. A checkout whose own C(.git/config) sets something that runs a program, reads another
    config file or sends data elsewhere (for example C(core.sshCommand), C(include.path), C(url.*.insteadOf),
    C(remote.*.pushurl), C(filter.*.clean)) is refused, and left untouched.
  - B(Private files.) The checkout directory (and the directories created for it) get the directory mode of
    O(file_mode) (0700 by default) and git runs under a matching umask, so no other user can read the checkout,
    whatever the process umask.
  - B(Failure.) When the push fails for good (authentication, network, retries exhausted) the task fails with a
    message naming the cause; RV(git_commit_status.committed) may be true with RV(git_commit_status.pushed) false.
    The commit stays in the checkout and the next run pushes it.
  - B(Credentials.) An HTTPS token reaches git only through a per-run C(GIT_ASKPASS) script that reads it from an
    environment variable set for the git child processes; it is never put in the URL, C(.git/config), a command
    line, a log or the result, and credential helpers are disabled while it is used so none stores it. The
    credentials' environment is given only to the network commands (clone, fetch, push, ls-remote). A URL with
    credentials in it is refused. SSH uses O(ssh_key_file) through C(GIT_SSH_COMMAND).
  - Needs git 2.26 or newer on the controller, and GitPython. See
    R(the Git guide,ansible_collections.netops.nautobot_backup.docsite.git).
author:
  - Netops automation team (@netops)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - C(prepare) queries the remote and reports what it would do, without cloning, fetching or moving anything,
        and without taking the run lock or recovering anything.
      - C(publish) stages into a throw-away index and reports the files that would be committed; nothing is
        committed or pushed.
  connection:
    support: none
  delegation:
    support: none
    details: Always runs on the controller; O(repo_dir) is a path on the controller.
  diff_mode:
    support: none
  idempotent:
    description:
      - A second C(prepare) against an unchanged remote returns C(changed=false).
      - A second C(publish) with unchanged files makes no commit, pushes nothing and returns C(changed=false).
    support: full
  platform:
    support: full
    platforms: posix
options:
  repo_dir:
    description: Path of the checkout on the controller. Created by C(prepare) when missing or empty.
    type: path
    required: true
  repo_url:
    description:
      - URL of the remote repository (C(https://), C(ssh://), C(git@host:path) or C(file://)).
      - Must not contain credentials (C(https://user:token@host/...) is refused); use O(token).
    type: str
    required: true
  branch:
    description: Branch to publish to. Created when the remote does not have it.
    type: str
    default: main
  mode:
    description:
      - C(prepare) clones or syncs the checkout before the run writes files.
      - C(publish) commits and pushes the written files.
    type: str
    choices: [prepare, publish]
    default: publish
  username:
    description:
      - User name sent with O(token) over HTTPS.
      - The default suits GitHub (personal and app tokens), GitLab and Azure DevOps tokens, which ignore it or
        expect C(x-access-token). Set it for servers that check it (Bitbucket access tokens use C(x-token-auth);
        Gitea and plain HTTP servers want the account name).
      - Defaults to the C(NB_BACKUP_GIT_USERNAME) environment variable, else C(x-access-token).
    type: str
  token:
    description:
      - Secret (personal access token or password) for HTTPS remotes.
      - Defaults to the C(NB_BACKUP_GIT_TOKEN) environment variable. Without a token, git uses whatever the
        controller provides (credential helpers, SSH agent).
    type: str
  ssh_key_file:
    description:
      - Private key for SSH remotes, used as C(ssh -i KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new
        -o BatchMode=yes) (a new host key is accepted and remembered, a changed one is refused).
      - Defaults to the C(NB_BACKUP_GIT_SSH_KEY_FILE) environment variable.
    type: path
  files:
    description:
      - C(publish) only. Paths the run wrote, relative to O(repo_dir) (absolute paths inside it are accepted).
      - Only these paths are staged; anything else in the checkout (untracked files, other edits) is left out of
        the commit. Each must exist and be a file.
    type: list
    elements: str
    default: []
  device_results:
    description:
      - C(publish) only. The run's device results (C(DeviceBackupInfo) fields), as host name -> result (the
        C(backup_results) of the backup_devices role) or as a list. The running config file of every device whose
        running config was saved, and its startup config file when that was saved too, are added to O(files); the
        message placeholders C({devices_backed_up}) and C({devices_failed}) are set from them (O(message_vars) can
        still override them).
      - Computed here rather than in Jinja, so that a run of thousands of devices does not pass its results through
        templating several times.
    type: raw
  status_page:
    description:
      - C(publish) with O(device_results) only. Keep the backup repository's front page, committed in the same
        commit as the configurations.
      - "Writes one status record per device of O(device_results), C(.status/<device>.json) (the device name made
        path-safe like backup paths) with C(device), C(platform), C(location), C(status) (C(ok) or C(failed)),
        C(error_class), C(error) (one line, at most 200 characters), C(since) (the C(YYYY-MM-DD) the current status
        and class began; a failure's message is the first one of its class) and C(config_unsaved) (true, false, or
        null when unknown). Nothing in it changes on every run, so an unchanged rerun makes no commit."
      - Rebuilds C(README.md) at the repository root from every C(.status/*.json) in the checkout (counts per
        status, platform and location; failing devices with class and since, oldest first; devices with unsaved
        changes; lists capped at 500 rows). Every value is escaped for Markdown and HTML. After a rejected push is
        replayed onto the moved remote, the page is rebuilt from the replayed tree and folded into the run's
        commit, so the last pusher's page covers every concurrent run's devices.
      - A C(README.md) whose first line is not the generated marker (written by a person) is never overwritten;
        the page is skipped with a warning. Unreadable status records are skipped with a warning.
      - Nothing is written in check mode.
    type: bool
    default: false
  removed_files:
    description:
      - C(publish) only. Paths deleted by the run, staged as removals. They must no longer exist on disk.
    type: list
    elements: str
    default: []
  message:
    description:
      - C(publish) only. Commit message template.
      - "Placeholders: C({date}) (C(YYYYMMDD)), C({timestamp}) (C(YYYYMMDD_HHMMSS)), C({files_changed}),
        C({branch}), and every key of O(message_vars) (for example C({devices_backed_up}) and
        C({devices_failed})). An unknown placeholder is an error. Write literal braces as C({{) and C(}})."
    type: str
    default: "Config backup {timestamp}: {files_changed} files changed"
  message_vars:
    description: C(publish) only. Extra values for the placeholders of O(message).
    type: dict
    default: {}
  run_id:
    description:
      - C(publish) only. The run's ID, written as the C(Run-Id) trailer of the commit (the backup's JSON report holds
        the same C(run_id)). Defaults to a random UUID.
    type: str
  trailers:
    description:
      - C(publish) only. Extra Git trailers (key -> value) appended to the commit message after the standard ones
        (a standard key given here replaces its value).
      - "The standard trailers, after a blank line below the rendered O(message): C(Run-Id) (O(run_id)),
        C(Triggered-By) (C(schedule) when AWX's C(awx_schedule_id) is set, else C(manual)), C(Executed-By) (AWX's
        C(awx_user_name), else the local user), C(AWX-Job-Id) (only when C(awx_job_id) or C(tower_job_id) is set),
        C(Devices-Backed-Up) and C(Devices-Failed) (the counts of O(device_results), or those keys of
        O(message_vars)), and, with O(device_results), C(Devices-Changed): how many devices' files the commit
        changes (C(0) when only other files changed). Counts, never names, so the trailer stays one short line
        at any fleet size."
      - Keys are letters, digits and C(-). Values are put on one line (control characters and newlines become
        spaces); a null or empty value leaves its trailer out. C(git log --format='%(trailers)') reads them, and a
        whole-file replay onto a moved remote keeps them.
    type: dict
    default: {}
  author_name:
    description: Author and committer name of the commit (and committer of replayed commits).
    type: str
    default: Nautobot Backup
  author_email:
    description: Author and committer e-mail of the commit.
    type: str
    default: nautobot-backup@localhost
  push_retries:
    description:
      - C(publish) only. How many times a rejected push is retried (after a fetch and a whole-file replay) before
        the task fails. C(0) pushes once.
    type: int
    default: 5
  timestamp:
    description:
      - The run's time for C({date}) and C({timestamp}) in O(message), as an ISO 8601 string, a
        C(YYYYMMDD_HHMMSS) stamp or the C({date, timestamp}) dict returned by C(backup_path). Defaults to now (UTC).
    type: raw
  timeout:
    description: Seconds after which one git command (clone, fetch, push...) is killed.
    type: float
    default: 300
  lock_timeout:
    description:
      - Seconds to wait for another run that holds the run lock of O(repo_dir) before failing with a message that
        names it (process ID, host, start time). C(0) fails at once.
    type: float
    default: 600
  file_mode:
    description:
      - Mode of the files of the checkout, as an octal string. C(0600) (the default) keeps the checkout private to
        the user running the playbook; C(0640) (or C(0660)) lets the user's group read it. Modes that give other
        users any access, or execute bits, are refused.
      - Directories get the matching mode (C(0700), or C(0750) / C(0770)); the checkout directory is set to it on
        every run, and git runs under the matching umask.
    type: raw
    default: "0600"
notes:
  - Several jobs may publish to one remote branch at the same time, each from its own O(repo_dir). Jobs that share
    one O(repo_dir) (a scheduled run and a manual one on the default checkout) run one after the other (run lock).
seealso:
  - module: netops.nautobot_backup.device_config_backup
  - module: netops.nautobot_backup.backup_path
"""

EXAMPLES = r"""
- name: Clone or sync the backup repository before backing up
  netops.nautobot_backup.git_commit_push:
    mode: prepare
    repo_dir: /var/lib/backups/configs
    repo_url: https://git.example.com/netops/configs.git
    branch: main
    token: "{{ git_token }}"
  run_once: true

- name: Commit and push the files this run wrote
  netops.nautobot_backup.git_commit_push:
    mode: publish
    repo_dir: /var/lib/backups/configs
    repo_url: https://git.example.com/netops/configs.git
    token: "{{ git_token }}"
    files: "{{ ansible_play_hosts | map('extract', hostvars, ['backup', 'running_config_file']) | select | list }}"
    message: "Config backup {date}: {devices_backed_up} devices, {devices_failed} failed, {files_changed} files"
    message_vars:
      devices_backed_up: "{{ backed_up | length }}"
      devices_failed: "{{ failed | length }}"
    timestamp: "{{ backup_plan.timestamp }}"
  run_once: true
  register: publish

- name: Over SSH with a deploy key (token and username from the environment work the same way)
  netops.nautobot_backup.git_commit_push:
    mode: prepare
    repo_dir: ./configs
    repo_url: git@git.example.com:netops/configs.git
    ssh_key_file: ~/.ssh/backup_deploy_key
"""

RETURN = r"""
git_status:
  description: The checkout.
  returned: always
  type: dict
  contains:
    repository_existed:
      description: Whether O(repo_dir) already was a checkout of O(repo_url).
      type: bool
    operation:
      description: C(cloned), C(initialized) (cloned from a remote without commits) or C(opened).
      type: str
    repository_path:
      description: O(repo_dir).
      type: str
    repository_url:
      description: O(repo_url) (it never carries credentials).
      type: str
    branch:
      description: O(branch).
      type: str
  sample:
    repository_existed: true
    operation: opened
    repository_path: /var/lib/backups/configs
    repository_url: https://git.example.com/netops/configs.git
    branch: main
git_commit_status:
  description: The commit and push (mode C(publish)).
  returned: when O(mode=publish)
  type: dict
  contains:
    committed:
      description: Whether a commit was made.
      type: bool
    pushed:
      description: Whether commits were pushed (the new one, or ones an earlier run left unpushed).
      type: bool
    commit_hash:
      description:
        - The new commit (after any replay), or the pushed HEAD when only older commits were pushed. When the remote
          already held exactly the run's files after a replay, the remote's commit.
      type: str
    files_changed:
      description: Number of paths whose staged content differs from the previous commit (would differ in check mode).
      type: int
    error:
      description: Why the push failed; null on success.
      type: str
  sample:
    committed: true
    pushed: true
    commit_hash: 3f0c1d5e9a2b7c4d6e8f0a1b2c3d4e5f6a7b8c9d
    files_changed: 2
    error: null
recovered:
  description:
    - What the run removed because a killed run left it, relative to O(repo_dir) (git lock files, temporary files),
      and a stale run lock it took over. Empty in check mode.
  returned: always
  type: list
  elements: str
  sample: [.git/index.lock, backups/.ios-r1.running-config.3f9a1c2e.tmp]
run_lock:
  description: The run lock (not in check mode).
  returned: when not in check mode and the arguments were valid
  type: dict
  contains:
    path:
      description: The lock file.
      type: str
    waited:
      description: Seconds this run waited for another run that held the lock.
      type: float
    waited_for:
      description: The run it waited for (process ID, host, start time), or null.
      type: str
  sample:
    path: /var/lib/backups/.configs.lock
    waited: 0.0
    waited_for: null
status_page:
  description: The front page (O(status_page)).
  returned: when O(status_page) is true, with O(device_results), not in check mode
  type: dict
  contains:
    records_changed:
      description: How many C(.status/<device>.json) records this run changed.
      type: int
    page:
      description: C(README.md) when the page was written (or already up to date), null when it was skipped.
      type: str
  sample:
    records_changed: 1
    page: README.md
changed_files:
  description: The paths committed (or that would be, in check mode), relative to O(repo_dir).
  returned: when O(mode=publish)
  type: list
  elements: str
  sample: [backups/ios-r1.running-config, backups/ios-r1.startup-config]
"""

# The options of the action plugin (plugins/action/git_commit_push.py), which validates the task's arguments with
# it ('message' is a reserved name for AnsibleModule, so no module code uses it). Literals only: a module file
# that is documentation and data needs no AnsibleModule. ("env", [NAME]) is an env_fallback (plugin_utils.action).
ARGUMENT_SPEC = {
    "repo_dir": {"type": "path", "required": True},
    "repo_url": {"type": "str", "required": True},
    "branch": {"type": "str", "default": "main"},
    "mode": {"type": "str", "choices": ["prepare", "publish"], "default": "publish"},
    "username": {"type": "str", "fallback": ("env", ["NB_BACKUP_GIT_USERNAME"])},
    "token": {"type": "str", "no_log": True, "fallback": ("env", ["NB_BACKUP_GIT_TOKEN"])},
    "ssh_key_file": {"type": "path", "no_log": False, "fallback": ("env", ["NB_BACKUP_GIT_SSH_KEY_FILE"])},
    "files": {"type": "list", "elements": "str", "default": []},
    "device_results": {"type": "raw"},
    "status_page": {"type": "bool", "default": False},
    "removed_files": {"type": "list", "elements": "str", "default": []},
    "message": {"type": "str", "default": "Config backup {timestamp}: {files_changed} files changed"},
    "message_vars": {"type": "dict", "default": {}},
    "run_id": {"type": "str"},
    "trailers": {"type": "dict", "default": {}},
    "author_name": {"type": "str", "default": "Nautobot Backup"},
    "author_email": {"type": "str", "default": "nautobot-backup@localhost"},
    "push_retries": {"type": "int", "default": 5},
    "timestamp": {"type": "raw"},
    "timeout": {"type": "float", "default": 300},
    "lock_timeout": {"type": "float", "default": 600},
    "file_mode": {"type": "raw", "default": "0600"},
}
