using System.Net;

namespace SharpTune.Hub;

/// <summary>An HTTP body that streams a byte range of a file from disk (a whole LFS object or one multipart part).</summary>
internal sealed class FileSliceContent : HttpContent
{
    private readonly string _path;
    private readonly long _offset;
    private readonly long _length;
    private readonly Action<long>? _onBytes;

    public FileSliceContent(string path, long offset, long length, Action<long>? onBytes = null)
    {
        _path = path;
        _offset = offset;
        _length = length;
        _onBytes = onBytes;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        file.Seek(_offset, SeekOrigin.Begin);
        var buffer = new byte[1 << 20];
        long remaining = _length;
        while (remaining > 0)
        {
            int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new SharpTuneException($"{_path}: the file became shorter while it was being uploaded");
            }

            await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            remaining -= read;
            _onBytes?.Invoke(read);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }
}
