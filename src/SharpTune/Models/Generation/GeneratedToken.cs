namespace SharpTune.Models.Generation;

/// <summary>A token as it is generated, for streaming: which prompt it belongs to and its position among the new tokens.</summary>
public readonly record struct GeneratedToken(int Sequence, int Index, int TokenId);
