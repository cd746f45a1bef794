using System.CommandLine;
using ModelBox.Client;

namespace ModelBox.Cli.ClientCommands;

/// <summary><c>modelbox client namespaces ...</c>.</summary>
internal static class NamespaceCommands
{
    private static readonly Column<NamespaceInfo>[] s_columns =
    [
        new("NAME", n => n.Name),
        new("CREATED", n => CommandOutput.Time(n.CreatedAt)),
    ];

    public static Command Create(ClientGlobalOptions global)
    {
        var list = new Command("list", "List the namespaces by name");
        global.SetClientAction(list, async (parseResult, client, output, ct) =>
        {
            var namespaces = await client.ListNamespacesAsync(ct).ToListAsync(ct);
            output.WriteList(namespaces, s_columns, "No namespaces.");
        });

        var command = new Command("namespaces", "List namespaces") { list };
        command.Aliases.Add("namespace");
        return command;
    }
}
