using System.CommandLine;
using System.Globalization;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client whoami</c>, <c>tokens create|list|revoke</c> and <c>grants set|list|remove</c> (docs/security.md).</summary>
internal static class AccessCommands
{
    private static readonly Column<TokenInfo>[] s_tokenColumns =
    [
        new("PREFIX", t => t.Prefix),
        new("PRINCIPAL", t => t.Principal),
        new("DESCRIPTION", t => t.Description),
        new("CREATED", t => CommandOutput.Time(t.CreatedAt)),
        new("EXPIRES", t => CommandOutput.Time(t.ExpiresAt)),
        new("REVOKED", t => CommandOutput.Time(t.RevokedAt)),
        new("LAST USED", t => CommandOutput.Time(t.LastUsedAt)),
    ];

    private static readonly Column<AccessGrant>[] s_grantColumns =
    [
        new("NAMESPACE", g => g.Namespace),
        new("PRINCIPAL", g => g.Principal),
        new("ROLE", g => g.Role),
        new("GRANTED BY", g => g.GrantedBy),
        new("SINCE", g => CommandOutput.Time(g.CreatedAt)),
    ];

    public static Command WhoAmI(ClientGlobalOptions global)
    {
        var command = new Command("whoami", "Show who the server takes you to be (from MODELBOX_TOKEN or the client config's token) and your grants");
        global.SetClientAction(command, async (parseResult, client, output, ct) =>
        {
            var identity = await client.WhoAmIAsync(ct);
            output.WriteObject(identity,
            [
                ("principal", identity.AuthMode == "none" ? "(auth is off on this server: everyone may do everything)" : identity.Principal),
                ("admin", identity.Admin ? "yes" : "no"),
                ("groups", string.Join(", ", identity.Groups)),
                ("token", identity.TokenPrefix),
                ("grants", string.Join(", ", identity.Grants.Select(g => $"{g.Role} on {g.Namespace} ({g.Principal})"))),
            ]);
        });
        return command;
    }

    public static Command Principals(ClientGlobalOptions global)
    {
        var principal = new Argument<string>("principal") { Description = "user:NAME (or NAME) or sa:NAME" };
        var admin = new Option<bool>("--admin") { Description = "Make it a server admin" };
        var create = new Command("create", "Create a user or service account (admin only)") { principal, admin };
        global.SetClientAction(create, async (parseResult, client, output, ct) =>
        {
            var id = await client.CreatePrincipalAsync(parseResult.GetValue(principal)!, parseResult.GetValue(admin), ct);
            output.WriteOutcome($"{id} exists.", new { principal = id });
        });
        return new Command("principals", "Create users and service accounts") { create };
    }

    public static Command Tokens(ClientGlobalOptions global)
    {
        var principal = new Option<string?>("--principal") { Description = "Whose token: user:NAME, sa:NAME [default: yours; another's needs an admin]" };
        var description = new Option<string?>("--description") { Description = "What the token is for" };
        var expiresIn = new Option<string?>("--expires-in") { Description = "Lifetime: 90d, 12h, 30m or seconds [default: never expires]" };
        var create = new Command("create", "Create an API token; it is printed once, store it now") { principal, description, expiresIn };
        global.SetClientAction(create, async (parseResult, client, output, ct) =>
        {
            var lifetime = ParseLifetime(parseResult.GetValue(expiresIn));
            var (token, info) = await client.CreateTokenAsync(parseResult.GetValue(principal), parseResult.GetValue(description), lifetime, ct);
            output.WriteObject(new { token, info },
            [
                ("token", token),
                ("prefix", info.Prefix),
                ("principal", info.Principal),
                ("expires", CommandOutput.Time(info.ExpiresAt)),
                ("note", "shown once: put it in MODELBOX_TOKEN or the client config's token"),
            ]);
        });

        var listPrincipal = new Option<string?>("--principal") { Description = "Only this principal's tokens [default: yours; an admin's: everyone's]" };
        var list = new Command("list", "List tokens (prefixes, never secrets)") { listPrincipal };
        global.SetClientAction(list, async (parseResult, client, output, ct) =>
            output.WriteList(await client.ListTokensAsync(parseResult.GetValue(listPrincipal), ct), s_tokenColumns, "No tokens."));

        var prefix = new Argument<string>("prefix") { Description = "The token's prefix (mbx_ and 12 hex digits)" };
        var revoke = new Command("revoke", "Revoke a token; it stops working on every replica within seconds") { prefix };
        global.SetClientAction(revoke, async (parseResult, client, output, ct) =>
        {
            var info = await client.RevokeTokenAsync(parseResult.GetValue(prefix)!, ct);
            output.WriteOutcome($"Revoked {info.Prefix} of {info.Principal}.", info);
        });

        return new Command("tokens", "Create, list and revoke API tokens") { create, list, revoke };
    }

    public static Command Grants(ClientGlobalOptions global)
    {
        Option<string> Namespace() => new("--namespace") { Description = "The namespace; the grant covers everything below it", Required = true };
        Option<string> Principal() => new("--principal") { Description = "Whom: alice (a user), user:NAME, sa:NAME, group:NAME or anonymous", Required = true };
        var setNamespace = Namespace();
        var setPrincipal = Principal();
        var role = new Option<string>("--role") { Description = "viewer, editor or owner", Required = true };
        var set = new Command("set", "Give a principal a role on a namespace subtree (you must own it)") { setNamespace, setPrincipal, role };
        global.SetClientAction(set, async (parseResult, client, output, ct) =>
        {
            var grant = await client.SetGrantAsync(parseResult.GetValue(setPrincipal)!, parseResult.GetValue(setNamespace)!, parseResult.GetValue(role)!, ct);
            output.WriteOutcome($"{grant.Principal} is {grant.Role} on {grant.Namespace} and below.", grant);
        });

        var listNamespace = new Option<string?>("--namespace") { Description = "Only grants on this namespace and below" };
        var list = new Command("list", "List the grants you may see") { listNamespace };
        global.SetClientAction(list, async (parseResult, client, output, ct) =>
            output.WriteList(await client.ListGrantsAsync(parseResult.GetValue(listNamespace), ct), s_grantColumns, "No grants."));

        var removeNamespace = Namespace();
        var removePrincipal = Principal();
        var remove = new Command("remove", "Remove a principal's grant on a namespace (you must own it)") { removeNamespace, removePrincipal };
        global.SetClientAction(remove, async (parseResult, client, output, ct) =>
        {
            var who = parseResult.GetValue(removePrincipal)!;
            var where = parseResult.GetValue(removeNamespace)!;
            await client.RemoveGrantAsync(who, where, ct);
            output.WriteOutcome($"Removed the grant of {who} on {where}.", new { principal = who, @namespace = where });
        });

        return new Command("grants", "Set, list and remove roles on namespace subtrees") { set, list, remove };
    }

    /// <summary>90d, 12h, 30m, 45s or a number of seconds.</summary>
    internal static TimeSpan? ParseLifetime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var value = text.Trim();
        var unit = char.IsAsciiLetter(value[^1]) ? value[^1] : 's';
        var number = char.IsAsciiLetter(value[^1]) ? value[..^1] : value;
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
        {
            throw new CliUsageException($"--expires-in '{text}' is not a lifetime such as 90d, 12h, 30m or 3600");
        }

        return unit switch
        {
            'd' => TimeSpan.FromDays(amount),
            'h' => TimeSpan.FromHours(amount),
            'm' => TimeSpan.FromMinutes(amount),
            's' => TimeSpan.FromSeconds(amount),
            _ => throw new CliUsageException($"--expires-in '{text}': the unit must be d, h, m or s"),
        };
    }
}
