"""The guard's rules: which programs, arguments and SQL statements delete or recreate
environments or data.

``judge(unit, units)`` looks at one program a line would run (a ``specloom.agent.shell.Unit``)
and returns a ``Finding`` for each destructive thing it does:

- recursive deletes outside build folders (``rm -r``, ``find -delete``, ``rm`` of every file
  under a folder), ``git push --force`` (and ``+ref``, ``--delete``), ``git reset --hard``,
  ``git clean -f``;
- SQL that drops or empties data (``DROP``, ``TRUNCATE``, ``DELETE`` without ``WHERE``) sent
  to a database client (``psql -c``, a here-document, ``echo ... | mysql``), database drops
  by other tools (``dropdb``, ``redis-cli flushall``, ``rails db:drop``...);
- ``terraform destroy`` / ``apply -auto-approve`` (and OpenTofu, Terragrunt, Pulumi, CDK),
  ``kubectl delete``, ``helm uninstall``, the delete/terminate/remove verbs of cloud and
  platform CLIs (``aws``, ``gcloud``, ``az``, ``doctl``, ``heroku``...), Docker volume and
  system prunes;
- ``dd``/``mkfs``/``wipefs``/``shred`` on devices and output redirected onto a disk device;
- ``chmod -R 777``;
- a download run as code (``curl ... | sh``, ``bash <(curl ...)``, ``sh -c "$(curl ...)"``).

``sql_findings(text, where)`` judges SQL on its own, for database clients and MCP tool calls.

May import: the standard library and ``specloom.agent.shell``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from specloom.agent.shell import SHELLS, Unit, program_name

__all__ = [
    "BUILD_FOLDERS",
    "DESTRUCTIVE_VERBS",
    "Finding",
    "judge",
    "sql_findings",
]

BUILD_FOLDERS = frozenset(
    "build dist target out _build node_modules __pycache__ .pytest_cache .mypy_cache "
    ".ruff_cache .tox .nox .hypothesis htmlcov .coverage coverage .next .nuxt .turbo .parcel-cache "
    ".svelte-kit .angular .gradle .eggs .cache tmp .tmp site-packages-build".split()
)
"""Folder names whose recursive deletion is routine (generated output, caches)."""

_BUILD_SUFFIXES = (".egg-info", ".dist-info")


@dataclass(frozen=True, slots=True)
class Finding:
    """One destructive thing a line or tool call would do.

    Attributes:
        category: A short name (``recursive-delete``, ``git-force-push``, ``sql``...).
        reason: One sentence for the user.
        text: The command (or tool) it was found in, as written.
        keywords: Words an explicit rule's pattern must contain to cover it.
    """

    category: str
    reason: str
    text: str
    keywords: tuple[str, ...] = ()


_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "http", "https", "aria2c", "lwp-request"})
_INTERPRETERS = SHELLS | frozenset(
    {"python", "python3", "python2", "perl", "ruby", "node", "php", "source", ".", "pwsh", "iex"}
)
_SQL_CLIENTS = frozenset(
    "psql mysql mariadb sqlite3 sqlite duckdb sqlcmd clickhouse-client clickhouse cqlsh "
    "snowsql usql pgcli mycli litecli bq cockroach trino presto spark-sql hive beeline "
    "isql osql vsql".split()
)
_DB_DROPPERS = {
    "dropdb": "drops a PostgreSQL database",
    "dropuser": "drops a PostgreSQL role",
}
DESTRUCTIVE_VERBS = frozenset(
    "delete destroy terminate remove rm rb rmi purge wipe drop uninstall deregister prune "
    "undefine erase truncate nuke teardown".split()
)
"""Verbs that name a destructive action, in a CLI's command words or a tool's name."""
_READ_VERBS = frozenset(
    "list ls describe get show info status logs log view cat print version help plan inspect "
    "top explain search validate whoami diff output preview history export find query".split()
)
_CLOUD_CLIS = frozenset(
    "aws gcloud gsutil az oci ibmcloud doctl heroku fly flyctl vercel netlify railway render "
    "linode-cli hcloud scw exo vultr-cli upcloud firebase supabase wrangler eksctl aliyun "
    "tccli openstack swift s3cmd rclone mc minikube kind k3d vagrant virsh multipass lxc "
    "incus serverless sls sam copilot eb cf gh glab".split()
)
_DOWNLOAD_WORD = re.compile(r"(?<![\w-])(" + "|".join(sorted(_DOWNLOADERS)) + r")(?![\w-])")
_DEVICE = re.compile(r"^/dev/(?!null$|zero$|u?random$|stdout$|stderr$|stdin$|tty|fd/|pts/)")


def _flags(args: Sequence[str]) -> tuple[set[str], set[str]]:
    """Short option letters and long options among ``args`` (before a ``--``)."""
    short: set[str] = set()
    long: set[str] = set()
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--"):
            long.add(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1:
            short.update(arg[1:])
    return short, long


def _operands(args: Sequence[str]) -> list[str]:
    operands: list[str] = []
    after_dashes = False
    for arg in args:
        if after_dashes:
            operands.append(arg)
        elif arg == "--":
            after_dashes = True
        elif not arg.startswith("-") or arg == "-":
            operands.append(arg)
    return operands


def _first_flag(args: Sequence[str], wanted: Iterable[str]) -> str:
    """The argument as written that carries one of the ``wanted`` short letters or long
    options (``-rf`` for ``r``), for a finding's keywords."""
    wanted = set(wanted)
    for arg in args:
        if arg.startswith("--") and arg.split("=", 1)[0] in wanted:
            return arg.split("=", 1)[0]
        if arg.startswith("-") and not arg.startswith("--") and wanted & set(arg[1:]):
            return arg
    return ""


def _is_build_path(target: str) -> bool:
    """A relative path that stays inside the folder and lies in (or is) a build folder."""
    if not target or target.startswith(("/", "~", "$")) or "$" in target or "`" in target:
        return False
    normal = posixpath.normpath(target)
    if normal in (".", "..") or normal.startswith("../"):
        return False
    parts = [part for part in normal.split("/") if part not in ("", ".", "**")]
    return any(
        part in BUILD_FOLDERS or part.endswith(_BUILD_SUFFIXES) or part.startswith("cmake-build")
        for part in parts
    )


def _broad(target: str) -> bool:
    """A target that names every file of a folder (``*``, ``.*``, ``dir/*``, ``./**``)."""
    leaf = target.rstrip("/").rsplit("/", 1)[-1]
    return leaf in ("*", ".*", "**", "*.*") or target in ("/", ".", "~", "..")


def _rm(unit: Unit) -> Finding | None:
    args = unit.args
    short, long = _flags(args)
    recursive = bool(short & {"r", "R"}) or "--recursive" in long
    targets = _operands(args)
    dynamic = [
        value
        for value, is_dynamic in zip(unit.argv[1:], unit.dynamic[1:], strict=False)
        if is_dynamic and not value.startswith("-")
    ]
    flag = _first_flag(args, {"r", "R", "--recursive"})
    keywords = ("rm", flag) if flag else ("rm",)
    if "--no-preserve-root" in long:
        return Finding("recursive-delete", "rm --no-preserve-root", unit.text, keywords)
    if recursive:
        if unit.extra_arguments and not targets:
            return Finding(
                "recursive-delete",
                f"`{unit.text}` deletes recursively whatever it is given when the line runs",
                unit.text,
                keywords,
            )
        if dynamic:
            return Finding(
                "recursive-delete",
                f"`{unit.text}` deletes recursively a path known only when it runs "
                f"({', '.join(dynamic)})",
                unit.text,
                keywords,
            )
        outside = [target for target in targets if not _is_build_path(target)]
        if outside:
            return Finding(
                "recursive-delete",
                f"`{unit.text}` deletes recursively outside build folders ({', '.join(outside)})",
                unit.text,
                keywords,
            )
        return None
    broad = [target for target in targets if _broad(target) or "**" in target]
    broad = [target for target in broad if not _is_build_path(target)]
    if broad:
        return Finding(
            "recursive-delete",
            f"`{unit.text}` deletes every file of a folder ({', '.join(broad)})",
            unit.text,
            keywords,
        )
    if unit.extra_arguments and not targets and unit.piped_from:
        return Finding(
            "recursive-delete",
            f"`{unit.text}` deletes files named only when the line runs",
            unit.text,
            keywords,
        )
    return None


def _find(unit: Unit) -> Finding | None:
    if "-delete" not in unit.args:
        return None
    from specloom.agent.shell import find_targets

    targets = find_targets(unit.argv)
    risky = [
        target
        for target in targets
        if target.endswith("/**")
        and not _is_build_path(target)
        or target.startswith(("/", "~", ".."))
        or target.rsplit("/", 1)[-1] in ("*", "*.*", ".*")
    ]
    if not risky:
        return None
    return Finding(
        "recursive-delete",
        f"`{unit.text}` deletes a whole tree ({', '.join(risky)})",
        unit.text,
        ("find", "-delete"),
    )


_GIT_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})


def _git(unit: Unit) -> Finding | None:
    args = list(unit.args)
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in _GIT_VALUE_OPTIONS else 1
    if index >= len(args):
        return None
    sub, rest = args[index], args[index + 1 :]
    short, long = _flags(rest)
    if sub == "push":
        force = _first_flag(rest, {"f", "--force", "--force-with-lease", "--mirror"})
        if force:
            return Finding(
                "git-force-push",
                f"`{unit.text}` rewrites the remote's history ({force})",
                unit.text,
                ("git", "push", force),
            )
        refspecs = _operands(rest)[1:]
        if any(ref.startswith("+") for ref in refspecs):
            return Finding(
                "git-force-push",
                f"`{unit.text}` force-pushes a `+` refspec",
                unit.text,
                ("git", "push", "+"),
            )
        deleting = _first_flag(rest, {"d", "--delete", "--prune"})
        if deleting or any(ref.startswith(":") and len(ref) > 1 for ref in refspecs):
            return Finding(
                "git-remote-delete",
                f"`{unit.text}` deletes branches or tags on the remote",
                unit.text,
                ("git", "push", deleting or ":"),
            )
    elif sub == "reset" and ("--hard" in long or "--merge" in long):
        return Finding(
            "git-reset-hard",
            f"`{unit.text}` discards uncommitted changes",
            unit.text,
            ("git", "reset", "--hard"),
        )
    elif (
        sub == "clean"
        and ("f" in short or "--force" in long)
        and not ("n" in short or "--dry-run" in long)
    ):
        return Finding(
            "git-clean",
            f"`{unit.text}` deletes untracked files",
            unit.text,
            ("git", "clean", _first_flag(rest, {"f", "--force"})),
        )
    return None


def _sql_text_of(unit: Unit) -> list[str]:
    """The SQL a database client would run, as far as the line holds it."""
    texts: list[str] = []
    program = unit.program
    args = unit.args
    for position, arg in enumerate(args):
        if arg in (
            "-c",
            "--command",
            "-e",
            "--execute",
            "-q",
            "--query",
            "-Q",
            "--sql",
            "--eval",
        ) and (position + 1 < len(args)):
            texts.append(args[position + 1])
        elif arg.startswith(("--command=", "--execute=", "--query=", "--eval=")):
            texts.append(arg.split("=", 1)[1])
    if program in ("sqlite3", "sqlite", "duckdb", "bq", "litecli") or (
        program == "cockroach" and "sql" in args[:1]
    ):
        operands = _operands(args)
        texts.extend(operands[1:] if program != "bq" else operands)
    if unit.stdin:
        texts.append(unit.stdin)
    return texts


_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_DROP = re.compile(
    r"\bDROP\s+(TABLE|DATABASE|SCHEMA|VIEW|INDEX|USER|ROLE|COLUMN|COLLECTION|KEYSPACE|"
    r"MATERIALIZED\s+VIEW|SEQUENCE|FUNCTION|TRIGGER|TYPE|EXTENSION|OWNED)\b",
    re.I,
)
_TRUNCATE = re.compile(r"^\s*TRUNCATE\b|\bTRUNCATE\s+TABLE\b", re.I)
_DELETE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?DELETE\s+(?:FROM\s+)?[\w.\"`\[\]]+", re.I | re.S)
_WHERE = re.compile(r"\bWHERE\b", re.I)
_NOSQL = re.compile(
    r"\.(dropDatabase|drop|deleteMany\(\s*\{\s*\}\s*\)|remove\(\s*\{\s*\}\s*\))\s*\(?|"
    r"\bFLUSHALL\b|\bFLUSHDB\b",
    re.I,
)


def sql_findings(text: str, where: str) -> list[Finding]:
    """Statements in ``text`` that drop or empty data: ``DROP ...``, ``TRUNCATE``, ``DELETE``
    without ``WHERE`` (and MongoDB's ``drop``/``dropDatabase``, Redis' ``FLUSHALL``).

    Args:
        text: SQL, possibly several statements.
        where: The command or tool it is sent by, for the finding.
    """
    findings: list[Finding] = []
    clean = _SQL_STRING.sub("''", _SQL_COMMENT.sub(" ", text))
    for statement in clean.split(";"):
        if not statement.strip():
            continue
        drop = _DROP.search(statement)
        if drop:
            kind = " ".join(drop.group(1).upper().split())
            findings.append(Finding("sql", f"`{where}` runs DROP {kind}", where, ("DROP",)))
        elif _TRUNCATE.search(statement):
            findings.append(Finding("sql", f"`{where}` runs TRUNCATE", where, ("TRUNCATE",)))
        elif _DELETE.search(statement) and not _WHERE.search(statement):
            findings.append(
                Finding("sql", f"`{where}` runs DELETE without WHERE", where, ("DELETE",))
            )
    match = _NOSQL.search(text)
    if match:
        findings.append(
            Finding(
                "sql",
                f"`{where}` drops or empties a data store ({match.group(0).strip('.(')})",
                where,
                (match.group(0).strip(".( "),),
            )  # fmt: skip
        )
    return findings


def _sql(unit: Unit) -> list[Finding]:
    findings: list[Finding] = []
    for text in _sql_text_of(unit):
        for finding in sql_findings(text, unit.text):
            findings.append(Finding(finding.category, finding.reason, finding.text,
                                    (unit.program, *finding.keywords)))  # fmt: skip
    return findings


_VALUE_OPTIONS = frozenset(
    "-n --namespace --context --kubeconfig --cluster --user -s --server --profile --region "
    "--project --app -a --kube-context --chdir -C --stack --cwd".split()
)


def _subcommand(args: Sequence[str]) -> str:
    """The first word that is not an option or an option's value (``delete`` in
    ``kubectl -n prod delete pod``)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _VALUE_OPTIONS:
            index += 2
        elif arg.startswith("-"):
            index += 1
        else:
            return arg
    return ""


def _positional_verbs(args: Sequence[str], limit: int = 4) -> str | None:
    """The first destructive verb among the leading command words (``ec2 terminate-instances``),
    stopping at a read verb or the first option."""
    seen = 0
    index = 0
    while index < len(args) and seen < limit:
        arg = args[index]
        index += 1
        if arg.startswith("-"):
            if "=" not in arg and arg.startswith("--") and arg[2:] in ("profile", "region"):
                index += 1
            continue
        if not re.fullmatch(r"[A-Za-z][\w:.-]*", arg):
            return None
        seen += 1
        pieces = [piece.lower() for piece in re.split(r"[-:_.]", arg) if piece]
        if any(piece in DESTRUCTIVE_VERBS for piece in pieces):
            return arg
        if pieces and pieces[0] in _READ_VERBS:
            return None
    return None


def _infrastructure(unit: Unit) -> Finding | None:
    program = unit.program
    args = list(unit.args)
    short, long = _flags(args)
    sub = _subcommand(args)
    text = unit.text
    if program in ("terraform", "tofu", "terragrunt"):
        if (
            sub == "destroy"
            or (sub == "run-all" and "destroy" in args)
            or (sub in ("apply", "run-all") and "-destroy" in args)
        ):
            return Finding("terraform", f"`{text}` destroys infrastructure", text,
                           (program, "destroy"))  # fmt: skip
        if sub in ("apply", "run-all") and any(
            arg in ("-auto-approve", "--auto-approve") for arg in args
        ):
            return Finding("terraform", f"`{text}` changes infrastructure without review", text,
                           (program, "-auto-approve"))  # fmt: skip
        if sub == "state" and len(_operands(args)) > 1 and _operands(args)[1] == "rm":
            return Finding("terraform", f"`{text}` removes resources from the state", text,
                           (program, "state", "rm"))  # fmt: skip
        if sub == "workspace" and "delete" in args:
            return Finding("terraform", f"`{text}` deletes a workspace", text,
                           (program, "workspace", "delete"))  # fmt: skip
        return None
    if program == "pulumi" and sub in ("destroy", "down"):
        return Finding("terraform", f"`{text}` destroys a stack", text, ("pulumi", sub))
    if program == "pulumi" and sub in ("up", "update") and ("y" in short or "--yes" in long):
        return Finding("terraform", f"`{text}` changes infrastructure without review", text,
                       ("pulumi", sub, "--yes"))  # fmt: skip
    if program in ("cdk", "cdktf") and sub == "destroy":
        return Finding("terraform", f"`{text}` destroys stacks", text, (program, "destroy"))
    if program in ("kubectl", "oc", "k"):
        if sub in ("delete", "drain") or (sub == "replace" and "--force" in long):
            return Finding("kubectl", f"`{text}` deletes cluster resources", text,
                           (program, sub))  # fmt: skip
        return None
    if program == "helm":
        if sub in ("uninstall", "delete", "del", "un"):
            return Finding("helm", f"`{text}` uninstalls a release", text, ("helm", sub))
        return None
    if program in ("docker", "podman", "docker-compose", "nerdctl"):
        return _docker(unit, args, long, short)
    if program in _DB_DROPPERS:
        return Finding("database", f"`{text}` {_DB_DROPPERS[program]}", text, (program,))
    if program == "mysqladmin" and "drop" in args:
        return Finding("database", f"`{text}` drops a database", text, ("mysqladmin", "drop"))
    if program == "redis-cli" and any(arg.lower() in ("flushall", "flushdb") for arg in args):
        verb = next(arg for arg in args if arg.lower() in ("flushall", "flushdb"))
        return Finding("database", f"`{text}` empties a Redis database", text,
                       ("redis-cli", verb))  # fmt: skip
    tasks = [
        arg for arg in args if re.fullmatch(r"db:(drop|reset|purge|schema:load|setup)\S*", arg)
    ]
    if program in ("rails", "rake", "bin/rails") and tasks:
        return Finding("database", f"`{text}` drops or recreates the database", text,
                       (program, tasks[0]))  # fmt: skip
    if program in ("python", "python3") and len(args) > 1 and args[0].endswith("manage.py"):
        if args[1] in ("flush", "reset_db", "sqlflush"):
            return Finding("database", f"`{text}` empties the database", text, (args[1],))
    if program == "prisma" or (program in ("npx", "pnpx", "bunx") and "prisma" in args[:1]):
        if "reset" in args or "--force-reset" in args:
            return Finding("database", f"`{text}` drops and recreates the database", text,
                           ("prisma", "reset" if "reset" in args else "--force-reset"))  # fmt: skip
    if (
        program in ("conda", "mamba", "micromamba")
        and sub in ("remove", "env")
        and ("--all" in long or "remove" in args[1:])
    ):
        return Finding("environment", f"`{text}` deletes a conda environment", text,
                       (program, "remove"))  # fmt: skip
    if program in _CLOUD_CLIS:
        verb = _positional_verbs(args)
        if verb is not None:
            return Finding("cloud", f"`{text}` deletes cloud resources or data ({verb})", text,
                           (program, verb))  # fmt: skip
        if program in ("gsutil", "s3cmd", "rclone", "mc") and sub in (
            "rm",
            "del",
            "purge",
            "delete",
            "rb",
            "rmdir",
        ):
            return Finding("cloud", f"`{text}` deletes stored objects", text, (program, sub))
    return None


def _docker(unit: Unit, args: list[str], long: set[str], short: set[str]) -> Finding | None:
    operands = _operands(args)
    text = unit.text
    program = unit.program
    if operands[:2] in (["volume", "rm"], ["volume", "prune"], ["volume", "remove"]):
        return Finding("docker", f"`{text}` deletes volumes and their data", text,
                       (program, "volume", operands[1]))  # fmt: skip
    if operands[:2] == ["system", "prune"]:
        return Finding("docker", f"`{text}` deletes containers, images and data", text,
                       (program, "system", "prune"))  # fmt: skip
    compose = program == "docker-compose" or operands[:1] == ["compose"]
    if compose and "down" in operands and ("v" in short or "--volumes" in long):
        return Finding("docker", f"`{text}` deletes the project's volumes", text,
                       (program, "down", _first_flag(args, {"v", "--volumes"})))  # fmt: skip
    return None


def _disk(unit: Unit) -> Finding | None:
    program = unit.program
    text = unit.text
    if program == "dd":
        outputs = [arg[3:] for arg in unit.args if arg.startswith("of=")]
        if any(_DEVICE.match(target) for target in outputs):
            return Finding("disk", f"`{text}` overwrites a device", text, ("dd", "of=/dev/"))
        return None
    if program.startswith("mkfs") or program in ("mke2fs", "mkswap", "wipefs", "sgdisk"):
        return Finding("disk", f"`{text}` formats or wipes a device", text, (program,))
    if program in ("shred", "fdisk", "parted", "blkdiscard") and any(
        _DEVICE.match(arg) for arg in unit.args
    ):
        return Finding("disk", f"`{text}` rewrites a device", text, (program,))
    return None


def _chmod(unit: Unit) -> Finding | None:
    if unit.program not in ("chmod", "chown"):
        return None
    short, long = _flags(unit.args)
    if not (short & {"R"} or "--recursive" in long):
        return None
    if unit.program == "chown":
        targets = _operands(unit.args)[1:]
        if any(
            target in ("/", "~", "/*") or target.startswith(("/etc", "/usr")) for target in targets
        ):
            return Finding("chmod", f"`{unit.text}` changes owners across the system",
                           unit.text, ("chown",))  # fmt: skip
        return None
    modes = [arg for arg in unit.args if not arg.startswith("-")][:1]
    mode = modes[0] if modes else ""
    if re.fullmatch(r"0?777|[augo]*\+rwx|a=rwx|ugo=rwx|o\+w|a\+w", mode):
        return Finding("chmod", f"`{unit.text}` makes a tree writable by everyone",
                       unit.text, ("chmod", mode))  # fmt: skip
    return None


def _pipe_to_shell(unit: Unit, units: Sequence[Unit]) -> Finding | None:
    program = unit.program
    if program in _INTERPRETERS or program == "eval":
        if unit.piped_from and program_name(unit.piped_from[0]) in _DOWNLOADERS:
            downloader = program_name(unit.piped_from[0])
            return Finding("download-exec", f"`{unit.text}` runs code downloaded by {downloader}",
                           unit.text, (downloader, program))  # fmt: skip
        for arg in unit.args:
            if arg.startswith(("<(", "$(", "`")) and _DOWNLOAD_WORD.search(arg):
                return Finding("download-exec", f"`{unit.text}` runs downloaded code", unit.text,
                               (program,))  # fmt: skip
    if program in _DOWNLOADERS:
        wrappers = unit.wrappers
        for position, wrapper in enumerate(wrappers):
            runs = (
                wrapper.endswith(" -c")
                or wrapper in ("eval", "source", ".")
                or (wrapper.split(" ")[0] in SHELLS)
            )
            if runs and any(inner in ("$(...", "`...") for inner in wrappers[position + 1 :]):
                return Finding("download-exec", f"`{unit.text}` is downloaded and run as code",
                               unit.text, (program, wrapper))  # fmt: skip
    return None


def _redirect_to_device(unit: Unit) -> Finding | None:
    for operator, target in unit.redirects:
        if operator in (">", ">>", ">|", "&>", "&>>", "<>") and _DEVICE.match(target):
            return Finding("disk", f"`{unit.text}` writes onto a device ({target})", unit.text,
                           (target,))  # fmt: skip
    return None


def judge(unit: Unit, units: Sequence[Unit]) -> list[Finding]:
    """What one program does that deletes or recreates an environment or data.

    Args:
        unit: The program, as ``specloom.agent.shell.expand_line`` found it.
        units: Every program of the same line.
    """
    findings: list[Finding] = []
    program = unit.program
    single: Finding | None = None
    if program == "rm":
        single = _rm(unit)
    elif program == "find":
        single = _find(unit)
    elif program == "git":
        single = _git(unit)
    elif program in ("dd", "shred", "fdisk", "parted", "blkdiscard", "mke2fs", "mkswap",
                     "wipefs", "sgdisk") or program.startswith("mkfs"):  # fmt: skip
        single = _disk(unit)
    elif program in ("chmod", "chown"):
        single = _chmod(unit)
    else:
        single = _infrastructure(unit)
    if single is not None:
        findings.append(single)
    if program in _SQL_CLIENTS or program in ("mongo", "mongosh", "redis-cli"):
        findings.extend(_sql(unit))
    for extra in (_pipe_to_shell(unit, units), _redirect_to_device(unit)):
        if extra is not None:
            findings.append(extra)
    return findings
