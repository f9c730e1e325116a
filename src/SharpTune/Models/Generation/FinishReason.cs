namespace SharpTune.Models.Generation;

/// <summary>Why a sequence stopped growing.</summary>
public enum FinishReason
{
    /// <summary>It produced an EOS token (included in its tokens).</summary>
    EndOfSequence,

    /// <summary>Its decoded text reached a stop string.</summary>
    StopString,

    /// <summary>It reached the maximum number of new tokens.</summary>
    Length,
}
