using ModelBox.Domain.Operations;
using ModelBox.Protocol;
using ModelBox.Server.Configuration;

namespace ModelBox.Server.Services;

/// <summary>
/// The ModelStore gRPC service: maps wire messages to domain operations and back, nothing else.
/// Validation lives in the domain; errors become statuses in <see cref="ErrorMappingInterceptor"/>.
/// Each capability's RPCs live in their own part (ModelStoreService.Capability.cs) and its wire ↔ domain mapping in one
/// static class (CapabilityMapping.cs); the domain operations they delegate to come in through the constructor. RPCs not
/// implemented yet answer UNIMPLEMENTED from the base class.
/// </summary>
public sealed partial class ModelStoreService(
    ExperimentTracker experiments,
    ModelRegistry models,
    ModelGovernance governance,
    DatasetCatalog datasets,
    LineageTracker lineage,
    RegistrySearch search,
    MetricLog metricLog,
    MetadataEditor metadata,
    EventLog events,
    ChangeStream changes,
    ArtifactStore artifacts,
    ObjectDetails details,
    StreamGuard streams,
    ServerConfig config,
    ILogger<ModelStoreService> logger) : ModelStore.ModelStoreBase;
