namespace SharpTune.Tests.Hub;

/// <summary>
/// Faults the test Hub injects: error statuses for the next N matching requests (429 with Retry-After, bursts of
/// 500), and connections dropped after a number of body bytes.
/// </summary>
internal sealed class HubFaults
{
    private readonly Lock _gate = new();
    private readonly List<StatusFault> _statuses = [];
    private readonly List<DropFault> _drops = [];

    private sealed class StatusFault(int status, int count, string? retryAfter, string? pathContains, string? method)
    {
        public int Status { get; } = status;
        public int Remaining { get; set; } = count;
        public string? RetryAfter { get; } = retryAfter;
        public string? PathContains { get; } = pathContains;
        public string? Method { get; } = method;
    }

    private sealed class DropFault(string pathContains, long afterBytes, int times, TimeSpan? stall = null)
    {
        public TimeSpan? Stall { get; } = stall;
        public string PathContains { get; } = pathContains;
        public long AfterBytes { get; } = afterBytes;
        public int Remaining { get; set; } = times;
    }

    /// <summary>Injected errors quote the request's Authorization header in X-Error-Message (a careless proxy).</summary>
    public bool EchoAuthorization { get; set; }

    /// <summary>The next <paramref name="count"/> requests whose path contains <paramref name="pathContains"/> get <paramref name="status"/>.</summary>
    public void FailNext(int count, int status, string? retryAfter = null, string? pathContains = null, string? method = null)
    {
        lock (_gate)
        {
            _statuses.Add(new StatusFault(status, count, retryAfter, pathContains, method));
        }
    }

    /// <summary>The next <paramref name="times"/> bodies served for a matching path stop after <paramref name="afterBytes"/> bytes and the connection is aborted.</summary>
    public void DropConnection(string pathContains, long afterBytes, int times = 1)
    {
        lock (_gate)
        {
            _drops.Add(new DropFault(pathContains, afterBytes, times));
        }
    }

    public (int Status, string? RetryAfter)? TakeStatus(string method, string path)
    {
        lock (_gate)
        {
            foreach (var fault in _statuses)
            {
                if (fault.Remaining > 0 && (fault.PathContains is null || path.Contains(fault.PathContains, StringComparison.Ordinal))
                    && (fault.Method is null || fault.Method == method))
                {
                    fault.Remaining--;
                    return (fault.Status, fault.RetryAfter);
                }
            }

            return null;
        }
    }

    /// <summary>The next matching body stops sending for <paramref name="stall"/> after <paramref name="afterBytes"/> bytes (a stalled transfer).</summary>
    public void Stall(string pathContains, long afterBytes, TimeSpan stall)
    {
        lock (_gate)
        {
            _drops.Add(new DropFault(pathContains, afterBytes, 1, stall));
        }
    }

    public (long AfterBytes, TimeSpan? Stall)? TakeInterruption(string path)
    {
        lock (_gate)
        {
            foreach (var fault in _drops)
            {
                if (fault.Remaining > 0 && path.Contains(fault.PathContains, StringComparison.Ordinal))
                {
                    fault.Remaining--;
                    return (fault.AfterBytes, fault.Stall);
                }
            }

            return null;
        }
    }
}
