using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using ModelBox.Protocol;

namespace ModelBox.Server.Services;

/// <summary>
/// Binds every ModelStore method a second time with request marshallers that turn an undecodable message into
/// INVALID_ARGUMENT. grpc-dotnet deserializes before any interceptor runs and answers a parse failure with UNKNOWN
/// ("Exception was thrown by handler.") and an error in the log; a client sending garbage is bad input, not a server
/// fault. <see cref="PreferValidatingEndpoints"/> gives these endpoints precedence over the default ones for the same
/// route (the default binding stays, because JSON transcoding is built from it).
/// </summary>
public sealed class ValidatingMethodProvider : IServiceMethodProvider<ModelStoreService>
{
    /// <summary>Endpoint metadata marking the validating endpoints.</summary>
    public static readonly object Marker = new();

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<ModelStoreService> context) =>
        ModelStore.BindService(new Binder(context), serviceImpl: null!);

    /// <summary>Endpoint convention: the validating endpoint wins the route over the default one.</summary>
    public static void PreferValidatingEndpoints(EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder is RouteEndpointBuilder route && builder.Metadata.Contains(Marker))
        {
            route.Order = -1;
        }
    }

    private static Method<TRequest, TResponse> Validating<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var deserialize = method.RequestMarshaller.ContextualDeserializer;
        var requestName = typeof(TRequest).Name;
        var marshaller = new Marshaller<TRequest>(
            method.RequestMarshaller.ContextualSerializer,
            context =>
            {
                try
                {
                    return deserialize(context);
                }
                catch (InvalidProtocolBufferException exception)
                {
                    throw new RpcException(new Status(
                        StatusCode.InvalidArgument, $"the request is not a valid modelbox.{requestName} message: {exception.Message}"));
                }
            });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    private static TDelegate Invoker<TDelegate>(string name, params Type[] parameters)
        where TDelegate : Delegate
    {
        var method = typeof(ModelStoreService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
            ?? throw new InvalidOperationException($"ModelStoreService has no method {name}");
        return method.CreateDelegate<TDelegate>();
    }

    private sealed class Binder(ServiceMethodProviderContext<ModelStoreService> context) : ServiceBinderBase
    {
        private readonly List<object> _metadata = [Marker];

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(
                Validating(method),
                _metadata,
                Invoker<UnaryServerMethod<ModelStoreService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(
                Validating(method),
                _metadata,
                Invoker<ClientStreamingServerMethod<ModelStoreService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(
                Validating(method),
                _metadata,
                Invoker<ServerStreamingServerMethod<ModelStoreService, TRequest, TResponse>>(
                    method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(
                Validating(method),
                _metadata,
                Invoker<DuplexStreamingServerMethod<ModelStoreService, TRequest, TResponse>>(
                    method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));
    }
}
