namespace SharpTune.Distributed.Store;

/// <summary>The first byte of every reply of the rendezvous store.</summary>
internal enum StoreStatus : byte
{
    /// <summary>Done; Add returns the counter, TryGet/Get the value, WaitPrefix the key and value.</summary>
    Ok = 0,

    /// <summary>TryGet of a key that does not exist; Delete of a key that did not exist.</summary>
    Missing = 1,

    /// <summary>The wait ran out of time.</summary>
    Timeout = 2,

    /// <summary>
    /// A rank has failed (some key under <see cref="TcpStoreServer.ErrorPrefix"/> exists): every blocking request ends
    /// with this, carrying the failed rank and its message, so no rank waits on a dead peer.
    /// </summary>
    PeerFailed = 3,

    /// <summary>The request was malformed; carries a message.</summary>
    Error = 4,
}
