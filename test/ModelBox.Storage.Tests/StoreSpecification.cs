namespace ModelBox.Storage.Tests;

/// <summary>
/// The base of every store specification suite: a fresh, empty, migrated backend per test from the backend's factory,
/// disposed (its database dropped) afterwards. A backend runs a suite by subclassing it with one line, its factory.
/// </summary>
public abstract class StoreSpecification : IAsyncLifetime
{
    private RelationalBackendFactory? _factory;
    private MetadataBackend? _backend;

    /// <summary>The backend under test.</summary>
    private protected abstract RelationalBackendFactory CreateFactory();

    private protected RelationalBackendFactory Factory => _factory ?? throw new InvalidOperationException("the backend is created in InitializeAsync");

    protected MetadataBackend Backend => _backend ?? throw new InvalidOperationException("the backend is created in InitializeAsync");

    public virtual async Task InitializeAsync()
    {
        _factory = CreateFactory();
        _backend = await _factory.CreateAsync();
    }

    public virtual async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }
}
