using SharpTune.Progress;

namespace SharpTune.Hub;

/// <summary>Adds up the bytes of parallel downloads into one <see cref="OperationProgress"/> stream.</summary>
internal sealed class DownloadProgress(IProgress<OperationProgress>? progress, string task, long? total)
{
    private long _done;
    private long? _total = total;

    public void Add(long bytes)
    {
        long done = Interlocked.Add(ref _done, bytes);
        progress?.Report(new OperationProgress(task, Math.Max(0, done), _total is { } t ? Math.Max(t, done) : null, "B"));
    }

    public void AddTotal(long bytes)
    {
        if (_total is not null)
        {
            _total += bytes;
        }
    }

    public void Finish()
    {
        long done = Interlocked.Read(ref _done);
        progress?.Report(new OperationProgress(task, done, Math.Max(done, _total ?? done), "B"));
    }
}
