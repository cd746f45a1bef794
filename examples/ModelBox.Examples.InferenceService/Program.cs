using ModelBox.Client;
using ModelBox.Examples.InferenceService;

// Usage: dotnet run --project examples/ModelBox.Examples.InferenceService -- NAMESPACE/MODEL@ALIAS [SERVER_ADDR]
// Loads the model the alias points at, answers a line of input per request from stdin, and swaps models when the alias moves.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: inference-service NAMESPACE/MODEL@ALIAS [SERVER_ADDR]");
    return 2;
}

await using var client = new ModelBoxClient(args.Length > 1 ? args[1] : Environment.GetEnvironmentVariable("MODELBOX_SERVER_ADDR") ?? "localhost:8085");
await using var host = new AliasedModelHost(client, args[0], ModelCache.DefaultDirectory);
host.Swapped += model => Console.WriteLine($"loaded {model.Version.Id} (version {model.Version.Version}, {model.Files.Count} file(s))");
await host.StartAsync();
while (Console.ReadLine() is { } line)
{
    Console.WriteLine(await host.PredictAsync(line));
}

return 0;
