using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ModelBox.Domain;
using ModelBox.Domain.Access;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;
using DomainGrant = ModelBox.Domain.Access.Grant;
using ProtoGrant = ModelBox.Protocol.Grant;

namespace ModelBox.Server.Security;

/// <summary>The Access gRPC service: maps wire messages to <see cref="AccessDirectory"/> operations for the authenticated caller.</summary>
public sealed class AccessService(AccessDirectory directory, ServerConfig config) : Access.AccessBase
{
    public override Task<WhoAmIResponse> WhoAmI(WhoAmIRequest request, ServerCallContext context)
    {
        var response = new WhoAmIResponse { AuthMode = config.AuthMode };
        if (CallerSession.Of(context)?.Current is { } caller)
        {
            response.Principal = caller.PrincipalId;
            response.Admin = caller.Admin;
            response.Groups.Add(caller.Groups);
            response.TokenPrefix = caller.TokenPrefix ?? string.Empty;
            response.Grants.Add(caller.Grants.Select(ToProto));
        }

        return Task.FromResult(response);
    }

    public override async Task<CreatePrincipalResponse> CreatePrincipal(CreatePrincipalRequest request, ServerCallContext context)
    {
        var (kind, name) = Principals.Parse(request.Principal, "principal");
        var principal = await directory.CreatePrincipalAsync(Caller(context), kind, name, request.Admin, context.CancellationToken);
        return new CreatePrincipalResponse { Principal = principal.Id, Admin = principal.Admin };
    }

    public override async Task<AddGroupMemberResponse> AddGroupMember(AddGroupMemberRequest request, ServerCallContext context)
    {
        await directory.AddGroupMemberAsync(Caller(context), request.Group, request.Member, context.CancellationToken);
        return new AddGroupMemberResponse();
    }

    public override async Task<CreateTokenResponse> CreateToken(CreateTokenRequest request, ServerCallContext context)
    {
        if (request.ExpiresInSeconds < 0)
        {
            throw ModelBoxException.InvalidArgument("expires in seconds must not be negative");
        }

        var (token, listing) = await directory.CreateTokenAsync(
            Caller(context),
            request.Principal,
            request.Description,
            request.ExpiresInSeconds == 0 ? null : TimeSpan.FromSeconds(request.ExpiresInSeconds),
            context.CancellationToken);
        return new CreateTokenResponse { Token = token, Info = ToProto(listing) };
    }

    public override async Task<ListTokensResponse> ListTokens(ListTokensRequest request, ServerCallContext context)
    {
        var response = new ListTokensResponse();
        response.Tokens.Add((await directory.ListTokensAsync(Caller(context), request.Principal, context.CancellationToken)).Select(ToProto));
        return response;
    }

    public override async Task<RevokeTokenResponse> RevokeToken(RevokeTokenRequest request, ServerCallContext context) =>
        new() { Info = ToProto(await directory.RevokeTokenAsync(Caller(context), request.Prefix, context.CancellationToken)) };

    public override async Task<SetGrantResponse> SetGrant(SetGrantRequest request, ServerCallContext context) =>
        new() { Grant = ToProto(await directory.SetGrantAsync(Caller(context), request.Principal, request.Namespace, request.Role, context.CancellationToken)) };

    public override async Task<RemoveGrantResponse> RemoveGrant(RemoveGrantRequest request, ServerCallContext context)
    {
        await directory.RemoveGrantAsync(Caller(context), request.Principal, request.Namespace, context.CancellationToken);
        return new RemoveGrantResponse();
    }

    public override async Task<ListGrantsResponse> ListGrants(ListGrantsRequest request, ServerCallContext context)
    {
        var response = new ListGrantsResponse();
        response.Grants.Add((await directory.ListGrantsAsync(Caller(context), request.Namespace, context.CancellationToken)).Select(ToProto));
        return response;
    }

    /// <summary>The authenticated caller; management needs auth enforced (with auth off there is no one to manage).</summary>
    private static CallerAccess Caller(ServerCallContext context) =>
        CallerSession.Of(context)?.Current
        ?? throw ModelBoxException.FailedPrecondition(
            "access control is off ([auth] mode = \"none\"); tokens and grants are managed on a server with mode = \"enforced\"");

    private static ProtoGrant ToProto(DomainGrant grant) => new()
    {
        Principal = grant.PrincipalId,
        Namespace = grant.Namespace,
        Role = Principals.RoleName(grant.Role),
        CreatedAt = Timestamp.FromDateTimeOffset(grant.CreatedAt),
        GrantedBy = grant.GrantedBy,
    };

    private static Protocol.ApiToken ToProto(Domain.Access.ApiToken token)
    {
        var proto = new Protocol.ApiToken
        {
            Prefix = token.Prefix,
            Principal = token.PrincipalId,
            Description = token.Description,
            CreatedAt = Timestamp.FromDateTimeOffset(token.CreatedAt),
        };
        if (token.ExpiresAt is { } expires)
        {
            proto.ExpiresAt = Timestamp.FromDateTimeOffset(expires);
        }

        if (token.RevokedAt is { } revoked)
        {
            proto.RevokedAt = Timestamp.FromDateTimeOffset(revoked);
        }

        if (token.LastUsedAt is { } used)
        {
            proto.LastUsedAt = Timestamp.FromDateTimeOffset(used);
        }

        return proto;
    }
}
