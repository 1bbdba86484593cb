"""`tunnels agent credentials` and `tunnels deploy ssh|k8s`: golden outputs and their guarantees.

Goldens live in tests/remote/golden/; after an intended change, regenerate them with
`TUNNELS_UPDATE_GOLDEN=1 pytest tests/remote/test_deploy.py` and review the diff.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path

import kubernetes_validate
import nkeys
import pytest
import yaml

from claude_tunnels.config.credentials import Secret
from claude_tunnels.remote_agent.credentials import permission_block, public_key, write_secret_file
from claude_tunnels.remote_agent.deploy_ssh import SshTarget, agent_config, install_script, ssh_plan
from claude_tunnels.tunnels.cli import main

GOLDEN = Path(__file__).parent / "golden"
# A fixed, test-only seed (its bytes are 0..31) so the outputs are stable.
SEED = Secret(nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER).decode())


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("TUNNELS_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with TUNNELS_UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if intended, regenerate (see the module docstring)"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_secret_file(tmp_path / "keys" / "shop_2Fapi.nk", SEED)
    (tmp_path / "agent.env").write_text("ANTHROPIC_API_KEY=sk-test-only\n", encoding="utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


SSH_ARGS = ("deploy", "ssh", "agent@build-1", "--workspace", "shop/api", "--path", "/srv/shop/api",
            "--nats", "tls://hub.example.com:4222", "--seed-file", "keys/shop_2Fapi.nk", "--env-file", "agent.env",
            "--ssh-option=-p2222", "--dry-run")


def test_deploy_ssh_dry_run_prints_the_exact_commands(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *SSH_ARGS)
    assert code == 0, err
    check_golden("deploy_ssh_dry_run.txt", out)
    # secrets go on stdin only: neither the seed nor the API key is printed or in a command line
    assert SEED.reveal() not in out and "sk-test-only" not in out
    assert "< keys/shop_2Fapi.nk" in out and "< agent.env" in out


def test_ssh_plan_keeps_secrets_off_argv_and_is_idempotent() -> None:
    target = SshTarget(host="h", workspace="shop/api", path="/srv/api", nats="nats://hub:4222", with_env_file=True)
    steps = ssh_plan(target, b"SEEDBYTES\n", b"KEY=secret\n")
    assert ssh_plan(target, b"SEEDBYTES\n", b"KEY=secret\n") == steps  # a second deploy runs the same steps
    for step in steps:
        assert not any("SEEDBYTES" in part or "secret" in part for part in step.argv)
    assert [s.stdin for s in steps if s.secret] == [b"SEEDBYTES\n", b"KEY=secret\n"]
    assert all("umask 077" in s.argv[-1] for s in steps if s.secret)
    script = install_script(target)
    # one unit instance per workspace, rewritten and restarted (never a second agent)
    assert "systemctl --user restart tunnels-agent@shop_2Fapi.service" in script
    assert "systemctl --user start" not in script and "Restart=always" in script
    assert '[ -x "$base/venv/bin/python" ] || python3 -m venv "$base/venv"' in script
    # the script is valid POSIX shell
    checked = subprocess.run(["sh", "-n"], input=script.encode(), capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()


def test_deploy_ssh_needs_credentials_and_an_absolute_path(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "deploy", "ssh", "h", "--workspace", "shop/web", "--path", "/srv/web",
                       "--nats", "nats://hub:4222", "--dry-run")
    assert code == 2 and "run `tunnels agent credentials shop/web` first" in err
    code, _, err = run(capsys, "deploy", "ssh", "h", "--workspace", "shop/api", "--path", "srv/api",
                       "--nats", "nats://hub:4222", "--seed-file", "keys/shop_2Fapi.nk", "--dry-run")
    assert code == 2 and "--path must be an absolute folder" in err
    code, _, err = run(capsys, "deploy", "ssh", "h", "--workspace", "shop/api", "--path", "/srv/api",
                       "--nats", "nats://u:pw@hub:4222", "--seed-file", "keys/shop_2Fapi.nk", "--dry-run")
    assert code == 2 and "must not hold credentials" in err and "pw" not in err.replace("password", "")


def test_deploy_k8s_manifest(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deploy", "k8s", "--workspace", "shop/api", "--nats", "tls://nats.tunnels.svc:4222",
                         "--image", "registry.example/claude-tunnels:0.1.0", "--pvc", "shop-api-src",
                         "--namespace", "agents", "--seed-file", "keys/shop_2Fapi.nk")
    assert code == 0, err
    documents = list(yaml.safe_load_all(out))
    golden = GOLDEN / "deploy_k8s_shop_api.yaml"
    if os.environ.get("TUNNELS_UPDATE_GOLDEN") == "1":
        golden.write_text(out, encoding="utf-8")
    assert documents == list(yaml.safe_load_all(golden.read_text(encoding="utf-8")))
    secret, deployment = documents
    assert [secret["kind"], deployment["kind"]] == ["Secret", "Deployment"]  # no Service
    assert base64.b64decode(secret["data"]["seed.nk"]).decode().strip() == SEED.reveal()
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert "ports" not in container
    assert SEED.reveal() not in " ".join(container["args"]) and "env" not in container
    assert container["args"][container["args"].index("--nkey-seed-file") + 1] == "/var/run/secrets/tunnels-agent/seed.nk"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"] == {"claimName": "shop-api-src"}
    assert volumes["credentials"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert container["resources"]["limits"] and container["resources"]["requests"]
    assert "&id" not in out  # plain YAML, no anchors


def test_agent_credentials_creates_keeps_and_rotates(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "agent", "credentials", "shop/web", "--out", "creds")
    assert code == 0, err
    seed_file = in_tmp / "creds" / "shop_2Fweb.nk"
    assert stat.S_IMODE(os.stat(seed_file).st_mode) == 0o600
    seed = Secret(seed_file.read_text().strip())
    assert seed.reveal().startswith("SU") and seed.reveal() not in out + err
    assert out == permission_block("shop/web", public_key(seed))
    assert (in_tmp / "creds" / "shop_2Fweb.conf").read_text() == out
    assert "nkey seed created" in err
    code, again, err = run(capsys, "agent", "credentials", "shop/web", "--out", "creds")
    assert (code, again) == (0, out) and "nkey seed kept" in err
    code, rotated, err = run(capsys, "agent", "credentials", "shop/web", "--out", "creds", "--rotate")
    assert code == 0 and rotated != out and "nkey seed rotated" in err
    code, _, err = run(capsys, "agent", "credentials", "../etc")
    assert code == 2 and "workspace" in err


def test_permission_block_golden() -> None:
    check_golden("permission_block_shop_api.conf", permission_block("shop/api", public_key(SEED)))


def test_an_agent_behind_a_leaf_node_is_deployed_with_the_hub_domain(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "agent", "credentials", "shop/edge", "--out", "creds", "--js-domain", "hub")
    assert code == 0, err
    assert '"$JS.hub.API.CONSUMER.MSG.NEXT.TUNNELS_EVENTS_TASKS.agent_shop_2Fedge"' in out
    assert '"$JS.hub.API.$KV.TUNNELS_AGENTS.shop=2Fedge"' in out
    assert '"$JS.API.' not in out and '"$KV.' not in out  # those would never cross the leaf
    seed = "creds/shop_2Fedge.nk"
    code, out, err = run(capsys, "deploy", "k8s", "--workspace", "shop/edge", "--nats", "nats://127.0.0.1:4222",
                         "--seed-file", seed, "--js-domain", "hub")
    assert code == 0, err
    args = list(yaml.safe_load_all(out))[1]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--js-domain") + 1] == "hub"
    target = SshTarget(host="h", workspace="shop/edge", path="/srv/edge", nats="nats://127.0.0.1:4222", js_domain="hub")
    assert 'js_domain: "hub"' in agent_config(target)
    assert "js_domain" not in agent_config(SshTarget(host="h", workspace="shop/edge", path="/srv/edge", nats="nats://h:4222"))
    with pytest.raises(SystemExit) as exited:
        run(capsys, "deploy", "k8s", "--workspace", "shop/edge", "--nats", "nats://h:4222",
            "--seed-file", seed, "--js-domain", "hub.*")
    assert exited.value.code == 2 and "argument --js-domain: must be" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [(), ("--env-file", "agent.env", "--namespace", "agents", "--js-domain", "hub")])
def test_deploy_k8s_manifest_is_valid_for_the_kubernetes_api(
    extra: tuple[str, ...], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked against the Kubernetes API's own schemas (strict: an unknown or misplaced field fails)."""
    code, out, err = run(capsys, "deploy", "k8s", "--workspace", "shop/api", "--nats", "tls://nats:4222",
                         "--seed-file", "keys/shop_2Fapi.nk", *extra)
    assert code == 0, err
    for document in yaml.safe_load_all(out):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_deploy_k8s_orchestrator_manifest_is_two_replicas_on_the_shared_root(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two orchestrator replicas against an existing cluster, valid for the Kubernetes API (strict)."""
    code, out, err = run(capsys, "deploy", "k8s", "--orchestrator")
    assert code != 0 and "set nats.url" in err  # the embedded server cannot be shared
    (in_tmp / "orchestrator.yaml").write_text("nats: {url: [nats://nats-0.nats:4222, nats://nats-1.nats:4222], replicas: 3}\n")
    code, out, err = run(capsys, "--root", str(in_tmp), "deploy", "k8s", "--orchestrator", "--env-file", "agent.env",
                         "--namespace", "tunnels", "--pvc", "shared-root")
    assert code == 0, err
    documents = list(yaml.safe_load_all(out))
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    secret, deployment = documents
    assert secret["kind"] == "Secret" and set(secret["data"]) == {"ANTHROPIC_API_KEY"}
    assert "sk-test-only" not in out  # base64 in the Secret, never plain in the manifest
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    [container] = spec["template"]["spec"]["containers"]
    assert container["args"] == ["--root", "/srv/tunnels", "serve"]
    assert spec["template"]["spec"]["volumes"] == [{"name": "root", "persistentVolumeClaim": {"claimName": "shared-root"}}]
