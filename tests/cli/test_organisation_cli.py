"""``lakehold unit``, ``lakehold group`` and ``lakehold project member``, run in-process."""

from __future__ import annotations


def test_units_groups_and_members(cli) -> None:
    cli("domain", "create", "Sales")
    cli("user", "create", "ana")
    cli("user", "create", "bob")
    ana = cli("token", "create", "t", "--user", "ana").strip().splitlines()[-1]

    assert "Sales/Marketing" in cli("unit", "create", "Marketing", "--domain", "Sales")
    cli("unit", "create", "Marketing", "--domain", "Sales", code=5)
    cli("unit", "create", "Nope", "--domain", "Sales", token=ana, code=3)
    cli("unit", "owner-add", "Sales/Marketing", "--user", "ana")
    out = cli("unit", "create", "Ads", "--domain", "Sales", "--parent", "Marketing", token=ana)
    assert "Sales/Marketing/Ads" in out
    listed = cli("unit", "list", "--domain", "Sales")
    assert "Sales/Marketing/Ads" in listed and "ana" in listed
    cli("unit", "owner-add", "Sales/Marketing", code=2)

    out = cli(
        "project", "create", "ads", "--domain", "Sales", "--unit", "Sales/Marketing", token=ana
    )
    assert "Sales/Marketing" in out
    assert "ads" in cli("unit", "projects", "Sales/Marketing", token=ana)

    cli("group", "create", "analysts")
    cli("group", "add-member", "analysts", "bob")
    assert "bob" in cli("group", "list")
    cli("project", "member", "add", "ads", "--group", "analysts", "--role", "viewer", token=ana)
    cli("project", "member", "add", "ads", "--user", "bob", "--role", "boss", token=ana, code=2)
    cli(
        "project",
        "member",
        "update",
        "ads",
        "--group",
        "analysts",
        "--role",
        "contributor",
        token=ana,
    )
    members = cli("project", "member", "list", "ads", token=ana)
    assert "analysts" in members and "contributor" in members
    cli("project", "member", "remove", "ads", "--user", "ana", token=ana, code=5)
    cli("project", "member", "remove", "ads", "--group", "analysts", token=ana)
    cli("group", "remove-member", "analysts", "bob")
    cli("group", "delete", "analysts")
    cli("unit", "owner-remove", "Sales/Marketing", "--user", "ana")
    cli("project", "member", "list", "nope", code=4)


def test_units_are_renamed_and_deleted(cli) -> None:
    cli("domain", "create", "Sales")
    cli("user", "create", "bob")
    bob = cli("token", "create", "t", "--user", "bob").strip().splitlines()[-1]
    cli("unit", "create", "Marketing", "--domain", "Sales")
    cli("unit", "create", "Ads", "--domain", "Sales", "--parent", "Marketing")
    assert "Sales/Growth" in cli("unit", "update", "Sales/Marketing", "--name", "Growth")
    assert "Sales/Growth/Ads" in cli("unit", "list", "--domain", "Sales")
    assert "name" in cli("unit", "update", "Sales/Growth", "--name", "a/b", code=2)
    cli("unit", "update", "Sales/Growth", "--description", "x", token=bob, code=3)
    assert "Ads" in cli("unit", "delete", "Sales/Growth", code=5)
    cli("unit", "delete", "Sales", code=5)
    cli("unit", "delete", "Sales/Growth/Ads", token=bob, code=3)
    cli("unit", "delete", "Sales/Growth/Ads")
    cli("unit", "delete", "Sales/Growth/Ads", code=4)
    assert "Ads" not in cli("unit", "list", "--domain", "Sales")


def test_every_organisation_command_has_help_with_an_example(cli) -> None:
    commands = [
        ["unit", "create"],
        ["unit", "list"],
        ["unit", "projects"],
        ["unit", "owner-add"],
        ["unit", "owner-remove"],
        ["unit", "update"],
        ["unit", "delete"],
        ["group", "create"],
        ["group", "delete"],
        ["group", "list"],
        ["group", "add-member"],
        ["group", "remove-member"],
        ["project", "member", "list"],
        ["project", "member", "add"],
        ["project", "member", "update"],
        ["project", "member", "remove"],
    ]
    for command in commands:
        assert "Example" in cli(*command, "--help"), command
