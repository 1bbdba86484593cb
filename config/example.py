"""The commented example ``orchestrator.yaml`` that ``tunnels init`` writes.

Every key is spelled out at its default value, so the file documents the whole schema; a test
loads it back and compares it with ``Settings()`` key by key.
"""

from __future__ import annotations

_EXAMPLE = """\
# orchestrator.yaml: settings of claude-tunnels. Every key is optional; the values below are the
# defaults. Unknown keys are errors, so a typo is reported instead of silently ignored.
# Secrets do not belong here: chat tokens go in ARCHIVE/<channel>/credentials (mode 600) or in
# environment variables.

# The folder holding the projects (relative to this file). A project is a folder directly under
# it with a CLAUDE.md; its workspaces are sub-folders with a CLAUDE.md or a .claude/ folder.
root: .
# Relative to root: the orchestrator's own state (embedded NATS store, ...) and the credentials.
state_dir: .tunnels
archive_dir: ARCHIVE

nats:
  # null starts an embedded nats-server on loopback; set e.g. nats://nats.example:4222 to use a
  # server, or a cluster's seed URLs as a list or comma-separated: [nats://n1:4222, nats://n2:4222]
  # (this is how remote workspace agents join).
  url: null
  token: null            # or user + password, or creds_file (a JWT .creds file), or nkey_seed_file
  user: null             # with password: a user of the server's authorization block
  password: null         # the user's password (keep this file private, or use creds_file)
  creds_file: null       # a JWT .creds file, for a server in operator mode
  nkey_seed_file: null   # a file (mode 0600) holding an nkey user seed, SU...
  tls: null              # or: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
  stream: TUNNELS_EVENTS # the JetStream stream holding the event log
  retention_days: 30     # events older than this expire from the stream
  duplicate_window_s: 86400  # the same event appended again within this window is stored once
  # how long connecting may take before the server counts as unreachable (readers give up after it)
  connect_timeout_s: 5
  outage_notice_s: 30    # tell people with a request open when the event store is unreachable this long
  lease_ttl_s: 15        # with url set: a standby orchestrator takes over once the active one's lease is this stale
  replicas: 1            # copies of the stream, consumers and buckets: 1 embedded, 3 on a 3-node cluster

# The model of each agent role; null keeps the Claude Code CLI's default model.
models:
  router: null      # decides which projects a request is about (read-only)
  planner: null     # splits a request into workspace tasks (read-only)
  workspace: null   # does a task in its workspace
  direct: null      # answers a request about no project (read-only)

# Every limit must be greater than 0 (a cost budget may also be null: no budget).
limits:
  router_timeout_s: 180         # one routing, in seconds (as every *_s)
  planner_timeout_s: 600        # one plan (or revision)
  direct_timeout_s: 300         # one direct answer
  task_timeout_s: 1800          # one workspace task
  max_parallel_agents: 4        # workspace agents running at once
  # Tasks' Claude Code sessions started ahead, so they do not all start at once when due: phase 1's
  # while the plan waits for approval, the next phase's while one runs. A warm session has loaded
  # its settings and waits for its prompt (sent when the task is due): no model call, no tool
  # before that. Each is an idle CLI process (~150 MB). 0: none. Remote workspaces are never warmed.
  max_warm_agents: 4
  approval_ttl_s: 1800          # an unanswered confirmation or plan expires
  followup_ttl_s: 1800          # a finished request accepts follow-ups this long
  upstream_context_chars: 4000  # results passed to a dependent task, per upstream task
  max_message_chars: 16000      # a message, and the history, as prompts quote them
  # The planner's and the router's prompts stay under these sizes in characters (about 4 a token),
  # whatever the size of the tree: one line per workspace (or project), the dependency graph; the
  # farthest neighbour projects are left out first when even that does not fit.
  planner_prompt_chars: 60000
  router_prompt_chars: 40000
  readonly_max_turns: 15        # router and planner
  workspace_max_turns: 100      # model turns of one workspace task
  progress_interval_s: 1.0      # at most one task.progress event this often per task
  # Cost budgets in USD, as the Claude Code CLI computes cost from token usage; null = no budget.
  # Per task: a workspace session that reaches it is stopped by the CLI and the task fails.
  max_cost_usd_per_task: null
  # Per request: once routing, planning and finished tasks cost this much, no further phase
  # starts; tasks already running finish, the rest are reported as not run.
  max_cost_usd_per_request: null

permissions:
  bash:
    # allowlist: only `allow` runs; denylist: all but `deny`; allow_all / deny_all.
    mode: allowlist
    allow: null    # null = the built-in default allowlist; [] allows nothing
    deny: []       # refused in every mode, e.g. ["git push"]
  # Claude Code's OS sandbox (bubblewrap + socat on Linux) around every Bash command: writes only
  # in the workspace, no network, secrets hidden. `off` runs commands unconfined (warned at every
  # start); with it on, agents do not run where the sandbox cannot.
  sandbox: true
  network:
    allow: []      # hosts sandboxed commands may reach, e.g. [pypi.org, "*.npmjs.org"]
  relay:
    # asked in the conversation (Allow / Deny) instead of refused: `bash` commands outside the
    # allowlist, `network` hosts not listed. [] refuses them without asking.
    actions: [bash, network]
    timeout_s: 300 # no answer in time means deny

claude:
  cli_path: null       # null = let claude-agent-sdk find the Claude Code CLI
  env: {}              # extra environment for agent sessions (the only variables they get
                       # beyond locale, paths, proxies and model settings)
  isolate_home: false  # true = agent sessions get a private HOME instead of yours

task_log:
  dir: .tasks          # relative to root
  retention_days: 30   # day folders older than this are deleted

# Who may talk to the bot. Ids are stable user ids; an enabled Slack or Telegram channel needs
# an allowlist, or `allow_everyone: true` set explicitly.
channels:
  terminal:
    enabled: true          # `tunnels chat`
    user: local            # who the terminal's person is (terminal:<user>)
    auto_approve: false    # true: plans run without asking (trusted channels only)
  slack:
    enabled: false         # true needs ARCHIVE/slack/credentials (tunnels slack manifest, tunnels init)
    allowed_users: []      # e.g. [U012ABCDEF]
    allowed_channels: []   # e.g. [C012ABCDEF]; empty: any channel the bot is in
    allow_everyone: false  # true: anyone who can reach the bot may use it (instead of allowed_users)
    auto_approve: false    # true: plans run without asking
    api_url: null          # the Web API base URL; null: https://slack.com/api/
  telegram:
    enabled: false         # true needs ARCHIVE/telegram/credentials (a @BotFather token)
    allowed_users: []      # e.g. [123456789]
    allowed_chats: []      # e.g. [-1001234567890]; empty: any chat the bot is in
    allow_everyone: false  # true: anyone who can reach the bot may use it (instead of allowed_users)
    auto_approve: false    # true: plans run without asking
    per_user_sessions_in_groups: true  # false: one conversation per group chat (or topic)
    api_url: null          # a local Bot API server, e.g. http://127.0.0.1:8081

# Workspaces inside a git repository: each task runs in its own worktree on its own branch, from
# the request's base commit; the orchestrator commits it and records the diff and the tests.
# At the end of a request its changes wait, per repository, in one request branch
# <prefix><request>-result (the base with every succeeded task merged in): Merge, Open PR or Discard.
git:
  worktrees: true        # false: agents edit the workspace in place (tasks there take turns)
  branch_prefix: tunnels/  # task branches are <prefix><request>/<workspace>
  keep_failed_days: 7    # the branch of a failed, cancelled or interrupted task is kept this long (0: not at all);
                         # then the hourly sweep or `tunnels worktrees prune` deletes it
  # keep: a person decides. merge / pr: done without asking when every task succeeded and every
  # declared test passed, for requests from trusted_channels only.
  on_success: keep
  trusted_channels: [terminal]
  remote: origin         # where Open PR pushes the request branch
  github:
    # Open PR opens a pull request with a token: `token` in ARCHIVE/github/credentials or
    # GITHUB_TOKEN; without one it only pushes. GitHub Enterprise: https://HOST/api/v3
    api_url: https://api.github.com

# Remote workspace agents (tunnels-agent on other hosts or pods, reached through nats.url).
remote:
  lost_after_s: 30     # no heartbeat for this long: the agent is lost, its running task fails

# This orchestrator as a workspace of a parent orchestrator (null url: it has none). At the
# parent, `tunnels agent credentials PROJECT/NAME` makes the login; each task the parent hands
# over runs here as a request of this orchestrator, authorised by the parent's approved plan.
parent:
  url: null            # the parent's NATS: nats://hub.example:4222 or tls://...
  nkey_seed_file: null # the seed of that login (mode 0600; relative to root), or creds_file
  creds_file: null     # a JWT .creds file instead, for a parent's server in operator mode
  name: null           # the workspace the parent knows this orchestrator by: PROJECT/NAME
  description: ""      # what this tree is for, read by the parent's planner
  js_domain: null      # the parent's JetStream domain, when reached through a leaf node
  heartbeat_s: 5       # the parent's remote.lost_after_s should be several of these
  tls_ca_file: null    # the CA that signed the parent server's certificate (tls:// URLs)
  approval: parent     # own: put each plan to the parent's conversation as a question first

# The web dashboard, its JSON API and /metrics (README: "Dashboard and HTTP API"). `tunnels serve`
# starts it when enabled; `tunnels dashboard` runs it alone on the same stream.
dashboard:
  enabled: false       # true: `tunnels serve` serves the dashboard too (off: nothing listens)
  bind: 127.0.0.1:8470 # host:port; anything but loopback is refused while users is empty
  # Web users: a chat identity and the SHA-256 of its token (never the token itself). A user acts
  # as that identity: approves or cancels under the same rules as in the chat.
  # `tunnels dashboard token slack:U012ABCDEF` makes a token and prints the line to add here.
  users: {}            # e.g. {"slack:U012ABCDEF": "sha256:9f86d081884c7d65..."}

# Who may approve anyone's request (the requester always may): <channel>:<user id>,
# e.g. [terminal:alice, slack:U012ABCDEF, telegram:123456789].
approvers: []
"""


def dump_default_settings() -> str:
    """The commented example configuration, every key at its default value."""
    return _EXAMPLE
