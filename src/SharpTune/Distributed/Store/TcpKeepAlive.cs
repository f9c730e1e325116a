using System.Net.Sockets;

namespace SharpTune.Distributed.Store;

/// <summary>
/// TCP keep-alive with short timers, so a peer whose host vanished (no FIN, no RST) is noticed within about
/// 20 seconds instead of the kernel's default two hours.
/// </summary>
internal static class TcpKeepAlive
{
    public static void Enable(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 3);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
    }
}
