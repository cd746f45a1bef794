using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using ModelBox.EndToEnd.Tests.Infrastructure;
using ModelBox.Protocol;
using Xunit.Abstractions;

namespace ModelBox.EndToEnd.Tests.Reliability;

/// <summary>
/// Bounded, seeded fuzzing of every method of modelbox.ModelStore over real HTTP/2 gRPC frames: random bytes as the
/// request message, and mutations (bit flips, truncation, duplicated fields, splices) of serialized valid requests.
/// Any status is acceptable except INTERNAL and UNKNOWN; the server must log no error and stay healthy.
/// Reproduce with MODELBOX_FUZZ_SEED=&lt;seed&gt;.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FuzzTests(ModelBoxServerFixture server, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address);

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Random_and_mutated_requests_to_every_method_never_get_internal_or_unknown_nor_log_an_error()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("MODELBOX_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"fuzz seed {seed} (rerun with MODELBOX_FUZZ_SEED={seed})");
        var errorsBefore = server.LoggedErrors.Count;
        var typed = new ModelStore.ModelStoreClient(_channel);
        var experiment = (await typed.CreateExperimentAsync(new CreateExperimentRequest { Name = "fuzz-target", Namespace = "fuzz" })).ExperimentId;
        var sampleIds = new[] { experiment, "fuzz", "", "exp-0000", experiment + "x" };

        var methods = ModelStore.Descriptor.Methods;
        var perMethod = Budget / methods.Count;
        var failures = new List<string>();
        var calls = 0;
        foreach (var method in methods)
        {
            // One generator per method, derived from the seed: a failure names the method and reruns the same inputs.
            var random = new Random(HashCode.Combine(seed, method.Name.GetHashCode(StringComparison.Ordinal) & 0x7fff));
            var valid = Populate(method.InputType, random, sampleIds, depth: 0).ToByteArray();
            var clock = Stopwatch.StartNew();
            for (var iteration = 0; clock.Elapsed < perMethod; iteration++)
            {
                var payloads = Enumerable.Range(0, method.IsClientStreaming ? random.Next(1, 4) : 1)
                    .Select(_ => NextPayload(random, valid))
                    .ToArray();
                var status = await CallAsync(method, payloads);
                calls++;
                if (status.StatusCode is StatusCode.Internal or StatusCode.Unknown)
                {
                    failures.Add($"{method.Name} iteration {iteration}: {status.StatusCode} {status.Detail} for "
                        + string.Join(" | ", payloads.Select(p => Convert.ToHexString(p.AsSpan(0, Math.Min(p.Length, 64))))));
                }
            }
        }

        output.WriteLine($"{calls} fuzzed calls over {methods.Count} methods");
        var health = await new Health.HealthClient(_channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        // The fuzzer may legitimately delete the sample objects (mutated valid DeleteExperiment calls); what must hold is
        // that the server still stores and serves: a fresh create reads back.
        var probe = (await typed.CreateExperimentAsync(new CreateExperimentRequest { Name = "after-fuzz-" + Guid.NewGuid().ToString("N") })).ExperimentId;
        Assert.Equal(probe, (await typed.GetExperimentAsync(new GetExperimentRequest { Id = probe })).Experiment.Id);
        Assert.True(failures.Count == 0, $"seed {seed}: {failures.Count} calls got INTERNAL/UNKNOWN:\n" + string.Join("\n", failures.Take(20)));
        var newErrors = server.LoggedErrors.Skip(errorsBefore).ToList();
        Assert.True(newErrors.Count == 0, $"seed {seed}: the server logged errors:\n" + string.Join("\n", newErrors.Take(10)));
    }

    private async Task<Status> CallAsync(MethodDescriptor method, byte[][] payloads)
    {
        var type = (method.IsClientStreaming, method.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (true, false) => MethodType.ClientStreaming,
            (false, true) => MethodType.ServerStreaming,
            _ => MethodType.DuplexStreaming,
        };
        var rpc = new Method<byte[], byte[]>(type, method.Service.FullName, method.Name, Raw, Raw);
        var invoker = _channel.CreateCallInvoker();
        // Server streams (WatchNamespace) may never end by themselves: a short deadline ends them.
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(method.IsServerStreaming ? 0.5 : 10));
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(rpc, null, options, payloads[0]);
                    break;
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(rpc, null, options))
                    {
                        try
                        {
                            foreach (var payload in payloads)
                            {
                                await call.RequestStream.WriteAsync(payload);
                            }

                            await call.RequestStream.CompleteAsync();
                        }
                        catch (Exception ex) when (ex is RpcException or InvalidOperationException)
                        {
                            // The server answered before the client finished writing: its status is in the response.
                        }

                        await call.ResponseAsync;
                    }

                    break;
                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(rpc, null, options, payloads[0]))
                    {
                        for (var i = 0; i < 3 && await call.ResponseStream.MoveNext(); i++)
                        {
                        }
                    }

                    break;
                default:
                    throw new NotSupportedException($"{method.Name}: duplex streaming methods need a fuzzing strategy");
            }

            return Status.DefaultSuccess;
        }
        catch (RpcException ex)
        {
            return ex.Status;
        }
    }

    private static byte[] NextPayload(Random random, byte[] valid)
    {
        switch (random.Next(6))
        {
            case 0:
                return RandomBytes(random, random.Next(0, 64));
            case 1:
                return RandomBytes(random, random.Next(64, 4096));
            case 2:
            {
                var flipped = (byte[])valid.Clone();
                for (var i = random.Next(1, 5); i > 0 && flipped.Length > 0; i--)
                {
                    flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                }

                return flipped;
            }

            case 3:
                return valid[..random.Next(0, valid.Length + 1)];
            case 4:
                // Every field twice (scalars: last wins; repeated and maps: doubled; messages: merged).
                return [.. valid, .. valid];
            default:
            {
                var cut = random.Next(0, valid.Length + 1);
                return [.. valid[..cut], .. RandomBytes(random, random.Next(1, 32)), .. valid[cut..]];
            }
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A plausible request: every field set, strings from real ids and plain words, nested messages two deep.</summary>
    private static IMessage Populate(MessageDescriptor descriptor, Random random, string[] strings, int depth)
    {
        var message = descriptor.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (field.RealContainingOneof is { } oneof && oneof.Fields[0] != field)
            {
                continue;
            }

            if (field.IsMap)
            {
                continue;
            }

            var value = Scalar(field, random, strings, depth);
            if (value is null)
            {
                continue;
            }

            if (field.IsRepeated)
            {
                ((System.Collections.IList)field.Accessor.GetValue(message)).Add(value);
            }
            else
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    private static object? Scalar(FieldDescriptor field, Random random, string[] strings, int depth) => field.FieldType switch
    {
        FieldType.String => strings[random.Next(strings.Length)],
        FieldType.Bytes => ByteString.CopyFrom(RandomBytes(random, random.Next(0, 128))),
        FieldType.Bool => true,
        FieldType.Double => random.NextDouble(),
        FieldType.Float => (float)random.NextDouble(),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => random.Next(0, 5),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => (long)random.Next(0, 5),
        FieldType.UInt32 or FieldType.Fixed32 => (uint)random.Next(0, 5),
        FieldType.UInt64 or FieldType.Fixed64 => (ulong)random.Next(0, 5),
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, field.EnumType.Values[random.Next(field.EnumType.Values.Count)].Number),
        FieldType.Message when depth < 2 => Populate(field.MessageType, random, strings, depth + 1),
        _ => null,
    };
}
