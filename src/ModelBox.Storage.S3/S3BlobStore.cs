using System.Net;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using ModelBox.Domain;
using ModelBox.Domain.Storage;

namespace ModelBox.Storage.S3;

/// <summary>
/// Blobs as objects of an S3-compatible bucket: <c>sha256/ab/cd/abcd…</c> for committed blobs, <c>tmp/…</c> for
/// uploads in progress. An upload buffers one part at a time (bounded memory): a blob smaller than a part is written
/// with one PUT straight to its content key at commit (a PUT is atomic); a larger one streams as a multipart upload to
/// a temporary key, which S3 shows to nobody until it completes, and is then copied to its content key server-side.
/// Aborting (or a failure) aborts the multipart upload. Keys derive from the content hash alone. A write whose address is
/// known up front (<see cref="IAddressedBlobWriting"/>: copy-data, restore) streams its multipart upload to the content key
/// itself, which S3 shows to nobody until the upload is completed at commit: no server-side copy.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IAddressedBlobWriting, IDisposable
{
    /// <summary>The largest object a single CopyObject may copy; bigger ones are copied part by part.</summary>
    private const long MaxSingleCopyBytes = 5L * 1024 * 1024 * 1024;

    /// <summary>The smallest part buffer of an addressed write.</summary>
    private const int MinimumBufferBytes = 64 * 1024;

    private const string TempPrefix = "tmp/";
    private const string BlobPrefix = "sha256/";

    private readonly S3BlobStoreOptions _options;
    private readonly IAmazonS3 _s3;

    public S3BlobStore(S3BlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Bucket, nameof(options));
        if (options.PartSizeBytes < S3BlobStoreOptions.MinimumPartSizeBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PartSizeBytes, "PartSizeBytes must be at least 5 MiB (S3's minimum part size).");
        }

        _options = options;
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // S3-compatible servers differ in which flexible checksums they understand; the content is hashed and
            // verified end to end by ModelBox itself, so ask the SDK only for what an operation requires.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrEmpty(options.Endpoint))
        {
            config.ServiceURL = options.Endpoint;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        _s3 = string.IsNullOrEmpty(options.AccessKeyId)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey), config);
    }

    /// <summary>The bucket.</summary>
    public string Bucket => _options.Bucket;

    public Task<IBlobWriter> BeginWriteAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult<IBlobWriter>(new Writer(this, TempPrefix + Guid.NewGuid().ToString("N"), address: null, _options.PartSizeBytes));
    }

    /// <summary>
    /// The part buffer is only as large as the blob (a small blob does not hold a whole part's memory), and a byte larger,
    /// so that a blob smaller than a part never fills it (a full buffer is sent as a part of a multipart upload).
    /// </summary>
    public Task<IBlobWriter> BeginWriteAsync(string sha256, long length, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var buffer = (int)Math.Clamp(length + 1, MinimumBufferBytes, _options.PartSizeBytes);
        return Task.FromResult<IBlobWriter>(new Writer(this, BlobKey(sha256), sha256, buffer));
    }

    public async Task<Stream?> OpenReadAsync(string sha256, long offset = 0, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = BlobKey(sha256);
        if (length is 0)
        {
            // A zero-length range cannot be expressed as an HTTP Range; only whether the blob exists matters.
            return await ExistsAsync(sha256, cancellationToken).ConfigureAwait(false) ? new MemoryStream([], writable: false) : null;
        }

        var request = new GetObjectRequest { BucketName = Bucket, Key = key };
        if (offset > 0 || length is not null)
        {
            request.ByteRange = length is { } l ? new ByteRange(offset, offset + l - 1) : new ByteRange($"bytes={offset}-");
        }

        try
        {
            var response = await Call(() => _s3.GetObjectAsync(request, cancellationToken)).ConfigureAwait(false);
            return new ResponseStream(this, response);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The range starts at the end of the blob: an empty read, as from a file.
            return new MemoryStream([], writable: false);
        }
    }

    public async Task<bool> ExistsAsync(string sha256, CancellationToken cancellationToken = default) =>
        await ObjectExistsAsync(BlobKey(sha256), cancellationToken).ConfigureAwait(false);

    public async Task<bool> DeleteAsync(string sha256, CancellationToken cancellationToken = default)
    {
        var key = BlobKey(sha256);
        if (!await ObjectExistsAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await Call(() => _s3.DeleteObjectAsync(Bucket, key, cancellationToken)).ConfigureAwait(false);
        return true;
    }

    public async IAsyncEnumerable<StoredBlob> ListBlobsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = BlobPrefix };
        ListObjectsV2Response page;
        do
        {
            page = await Call(() => _s3.ListObjectsV2Async(request, cancellationToken)).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                // sha256/ab/cd/<address>: any other key under the prefix is not a blob and is left alone.
                var address = item.Key[(item.Key.LastIndexOf('/') + 1)..];
                if (BlobAddress.IsValid(address) && string.Equals(item.Key, BlobKey(address), StringComparison.Ordinal))
                {
                    yield return new StoredBlob(address, new DateTimeOffset(item.LastModified ?? DateTime.UnixEpoch, TimeSpan.Zero).ToUniversalTime());
                }
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
    }

    public async IAsyncEnumerable<TemporaryBlob> ListTemporariesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in ListTemporaryItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new TemporaryBlob(item.Key, item.LastWrite);
        }
    }

    public async Task<int> SweepTemporariesAsync(DateTimeOffset idleSince, CancellationToken cancellationToken = default)
    {
        var removed = 0;
        await foreach (var item in ListTemporaryItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (item.LastWrite > idleSince)
            {
                continue;
            }

            if (item.UploadId is { } uploadId)
            {
                await Call(() => _s3.AbortMultipartUploadAsync(Bucket, item.Key, uploadId, cancellationToken)).ConfigureAwait(false);
            }
            else
            {
                await Call(() => _s3.DeleteObjectAsync(Bucket, item.Key, cancellationToken)).ConfigureAwait(false);
            }

            removed++;
        }

        return removed;
    }

    public void Dispose() => _s3.Dispose();

    private sealed record TemporaryItem(string Key, DateTimeOffset LastWrite, string? UploadId);

    /// <summary>
    /// Completed temporary objects (a crash between complete and copy) and multipart uploads in progress: to temporary keys,
    /// and to content keys (addressed writes).
    /// </summary>
    private async IAsyncEnumerable<TemporaryItem> ListTemporaryItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var objects = new ListObjectsV2Request { BucketName = Bucket, Prefix = TempPrefix };
        ListObjectsV2Response page;
        do
        {
            page = await Call(() => _s3.ListObjectsV2Async(objects, cancellationToken)).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return new TemporaryItem(item.Key, new DateTimeOffset(item.LastModified ?? DateTime.UnixEpoch, TimeSpan.Zero).ToUniversalTime(), null);
            }

            objects.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);

        var uploads = new List<MultipartUpload>();
        foreach (var prefix in new[] { TempPrefix, BlobPrefix })
        {
            try
            {
                // One page is plenty for a sweep that runs again later.
                var response = await Call(() => _s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = prefix }, cancellationToken))
                    .ConfigureAwait(false);
                uploads.AddRange(response.MultipartUploads ?? []);
            }
            catch (AmazonS3Exception exception) when (exception.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.MethodNotAllowed)
            {
                // Some S3-compatible servers cannot list uploads; a bucket lifecycle rule (AbortIncompleteMultipartUpload)
                // is the remedy there.
                break;
            }
        }

        foreach (var upload in uploads)
        {
            yield return new TemporaryItem(upload.Key, new DateTimeOffset(upload.Initiated ?? DateTime.UnixEpoch, TimeSpan.Zero).ToUniversalTime(), upload.UploadId);
        }
    }

    private async Task<bool> ObjectExistsAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await Call(() => _s3.GetObjectMetadataAsync(Bucket, key, cancellationToken)).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static string BlobKey(string sha256)
    {
        BlobAddress.Require(sha256);
        return $"{BlobPrefix}{sha256[..2]}/{sha256[2..4]}/{sha256}";
    }

    /// <summary>Transport failures and server errors mean the store is unreachable now; the client may retry.</summary>
    private async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AmazonS3Exception exception) when ((int)exception.StatusCode >= 500 && exception.StatusCode != HttpStatusCode.NotImplemented)
        {
            throw Unavailable(exception);
        }
        catch (Exception exception) when (exception is HttpRequestException or AmazonClientException)
        {
            throw Unavailable(exception);
        }
    }

    private ModelBoxException Unavailable(Exception exception) => new(
        ErrorKind.Unavailable,
        $"the S3 artifact store (bucket '{Bucket}'{(string.IsNullOrEmpty(_options.Endpoint) ? string.Empty : $" at {_options.Endpoint}")}) is unreachable: {exception.Message}",
        exception);

    /// <summary>
    /// Buffers one part at a time (<paramref name="bufferBytes"/>, a part or less); see the class remarks for the commit
    /// protocol. With an <paramref name="address"/>, <paramref name="tempKey"/> is that blob's content key, and the
    /// multipart upload is completed only at commit.
    /// </summary>
    private sealed class Writer(S3BlobStore store, string tempKey, string? address, int bufferBytes) : IBlobWriter
    {
        // S3 allows 10,000 parts: grow the part size as an upload gets long, so the limit is never reached.
        private const int PartsPerSizeStep = 2000;

        private readonly List<PartETag> _parts = [];
        private byte[] _buffer = new byte[bufferBytes];
        private int _filled;
        private string? _uploadId;
        private bool _tempCompleted;
        private bool _sealed;
        private bool _done;

        public long Length { get; private set; }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done || _sealed, this);
            while (!data.IsEmpty)
            {
                var take = Math.Min(data.Length, _buffer.Length - _filled);
                data.Span[..take].CopyTo(_buffer.AsSpan(_filled));
                _filled += take;
                Length += take;
                data = data[take..];
                if (_filled == _buffer.Length)
                {
                    await UploadPartAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public async Task SealAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (_sealed)
            {
                return;
            }

            // A blob smaller than a part stays in memory and is written with one PUT at commit; a larger one is completed
            // now under its temporary key (invisible to readers), so that the commit only copies it. An addressed upload
            // sends its last part now and is completed at commit (completing it publishes it).
            if (_uploadId is not null)
            {
                if (_filled > 0)
                {
                    await UploadPartAsync(cancellationToken).ConfigureAwait(false);
                }

                if (address is null)
                {
                    await store.Call(() => store._s3.CompleteMultipartUploadAsync(
                        new CompleteMultipartUploadRequest { BucketName = store.Bucket, Key = tempKey, UploadId = _uploadId, PartETags = _parts },
                        cancellationToken)).ConfigureAwait(false);
                    _tempCompleted = true;
                }

                _buffer = [];
            }

            _sealed = true;
        }

        public async Task<bool> CommitAsync(string sha256, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            var key = BlobKey(sha256);
            if (address is not null && !string.Equals(sha256, address, StringComparison.Ordinal))
            {
                throw new ArgumentException($"this write is of the blob {address}, not {sha256}", nameof(sha256));
            }

            await SealAsync(cancellationToken).ConfigureAwait(false);
            if (address is not null && _uploadId is not null)
            {
                await store.Call(() => store._s3.CompleteMultipartUploadAsync(
                    new CompleteMultipartUploadRequest { BucketName = store.Bucket, Key = key, UploadId = _uploadId, PartETags = _parts },
                    cancellationToken)).ConfigureAwait(false);
                _done = true;
                return true;
            }

            if (address is null && await store.ObjectExistsAsync(key, cancellationToken).ConfigureAwait(false))
            {
                await DisposeAsync().ConfigureAwait(false);
                return false;
            }

            if (_uploadId is null)
            {
                await store.Call(() => store._s3.PutObjectAsync(
                    new PutObjectRequest
                    {
                        BucketName = store.Bucket,
                        Key = key,
                        InputStream = new MemoryStream(_buffer, 0, _filled, writable: false),
                        AutoCloseStream = true,
                        UseChunkEncoding = false,
                    },
                    cancellationToken)).ConfigureAwait(false);
                _done = true;
                return true;
            }

            if (Length <= MaxSingleCopyBytes)
            {
                await store.Call(() => store._s3.CopyObjectAsync(
                    new CopyObjectRequest { SourceBucket = store.Bucket, SourceKey = tempKey, DestinationBucket = store.Bucket, DestinationKey = key },
                    cancellationToken)).ConfigureAwait(false);
            }
            else
            {
                await CopyInPartsAsync(key, cancellationToken).ConfigureAwait(false);
            }

            await DisposeAsync().ConfigureAwait(false);
            return true;
        }

        public async ValueTask DisposeAsync()
        {
            if (_done)
            {
                return;
            }

            _done = true;
            _buffer = [];
            try
            {
                if (_tempCompleted)
                {
                    await store._s3.DeleteObjectAsync(store.Bucket, tempKey).ConfigureAwait(false);
                }
                else if (_uploadId is not null)
                {
                    await store._s3.AbortMultipartUploadAsync(store.Bucket, tempKey, _uploadId).ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (exception is AmazonServiceException or AmazonClientException or HttpRequestException)
            {
                // The temporary object is invisible to readers; the sweep (or a lifecycle rule) removes it later.
            }
        }

        private async Task UploadPartAsync(CancellationToken cancellationToken)
        {
            _uploadId ??= (await store.Call(() => store._s3.InitiateMultipartUploadAsync(store.Bucket, tempKey, cancellationToken)).ConfigureAwait(false)).UploadId;
            var partNumber = _parts.Count + 1;
            var response = await store.Call(() => store._s3.UploadPartAsync(
                new UploadPartRequest
                {
                    BucketName = store.Bucket,
                    Key = tempKey,
                    UploadId = _uploadId,
                    PartNumber = partNumber,
                    PartSize = _filled,
                    InputStream = new MemoryStream(_buffer, 0, _filled, writable: false),
                    UseChunkEncoding = false,
                },
                cancellationToken)).ConfigureAwait(false);
            _parts.Add(new PartETag(partNumber, response.ETag));
            _filled = 0;
            if (partNumber % PartsPerSizeStep == 0)
            {
                _buffer = new byte[_buffer.Length * 2];
            }
        }

        private async Task CopyInPartsAsync(string key, CancellationToken cancellationToken)
        {
            var uploadId = (await store.Call(() => store._s3.InitiateMultipartUploadAsync(store.Bucket, key, cancellationToken)).ConfigureAwait(false)).UploadId;
            try
            {
                const long CopyPartBytes = 512L * 1024 * 1024;
                var parts = new List<PartETag>();
                for (long first = 0, number = 1; first < Length; first += CopyPartBytes, number++)
                {
                    var response = await store.Call(() => store._s3.CopyPartAsync(
                        new CopyPartRequest
                        {
                            SourceBucket = store.Bucket,
                            SourceKey = tempKey,
                            DestinationBucket = store.Bucket,
                            DestinationKey = key,
                            UploadId = uploadId,
                            PartNumber = (int)number,
                            FirstByte = first,
                            LastByte = Math.Min(first + CopyPartBytes, Length) - 1,
                        },
                        cancellationToken)).ConfigureAwait(false);
                    parts.Add(new PartETag((int)number, response.ETag));
                }

                await store.Call(() => store._s3.CompleteMultipartUploadAsync(
                    new CompleteMultipartUploadRequest { BucketName = store.Bucket, Key = key, UploadId = uploadId, PartETags = parts },
                    cancellationToken)).ConfigureAwait(false);
            }
            catch
            {
                await store._s3.AbortMultipartUploadAsync(store.Bucket, key, uploadId, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>
    /// The body of a GetObject response; disposing it releases the HTTP response. A connection that breaks mid-body (the S3
    /// server went away) is UNAVAILABLE, like a request that cannot reach it.
    /// </summary>
    private sealed class ResponseStream(S3BlobStore store, GetObjectResponse response) : ReadOnlyStream
    {
        private readonly Stream _body = response.ResponseStream;

        public override long Length => response.ContentLength;

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return _body.Read(buffer);
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException)
            {
                throw store.Unavailable(exception);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw store.Unavailable(exception);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
