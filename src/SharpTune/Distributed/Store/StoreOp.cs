namespace SharpTune.Distributed.Store;

/// <summary>The requests of the rendezvous store's protocol (one byte at the start of each request frame).</summary>
internal enum StoreOp : byte
{
    /// <summary>rank:int32, observer:bool. Says who is on this connection; sent once, first.</summary>
    Hello = 1,

    /// <summary>key, value. Sets (overwrites) a key.</summary>
    Set = 2,

    /// <summary>key, timeoutMs:int32. Waits for the key and returns its value.</summary>
    Get = 3,

    /// <summary>key. Returns the value or Missing at once.</summary>
    TryGet = 4,

    /// <summary>key, delta:int64. Adds to a counter (8 bytes, little-endian) and returns the new value.</summary>
    Add = 5,

    /// <summary>count:int32, keys..., timeoutMs:int32. Waits until every key exists.</summary>
    Wait = 6,

    /// <summary>prefix, timeoutMs:int32. Waits until some key starts with the prefix; returns it and its value.</summary>
    WaitPrefix = 7,

    /// <summary>key. Removes a key; returns whether it existed.</summary>
    Delete = 8,

    /// <summary>A clean goodbye: closing this connection afterwards is not a failure.</summary>
    Bye = 9,
}
