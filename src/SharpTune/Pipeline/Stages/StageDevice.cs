using SharpTune.Runtime;
using static TorchSharp.torch;

namespace SharpTune.Pipeline.Stages;

/// <summary>The device and element type a stage computes on, from the pipeline's <c>device</c> and <c>precision</c>.</summary>
public static class StageDevice
{
    /// <summary>auto: CUDA when libtorch has it, else the CPU; precision auto: bf16 on CUDA, fp32 on the CPU.</summary>
    public static (Device Device, ScalarType DType) Resolve(string device, string precision, TorchRuntimeOptions runtime)
    {
        var info = TorchRuntime.Initialize(runtime);
        bool cuda = device switch
        {
            "cuda" when !info.CudaAvailable => throw new SharpTuneException("training.device is cuda, but CUDA is not available (run 'sharptune doctor --device cuda')"),
            "cuda" => true,
            "cpu" => false,
            _ => info.CudaAvailable,
        };
        var dtype = precision switch
        {
            "bf16" => ScalarType.BFloat16,
            "fp16" => ScalarType.Float16,
            "fp32" => ScalarType.Float32,
            _ => cuda ? ScalarType.BFloat16 : ScalarType.Float32,
        };
        return (cuda ? CUDA : CPU, dtype);
    }
}
